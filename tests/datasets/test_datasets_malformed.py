"""Malformed files give DatasetError naming file, line and field; the generic format and the registry."""

import json

import pytest

from setsel.datasets import DatasetError, list_datasets, load_dataset
from setsel.io import write_records
from setsel.types import Candidates, Passage, Query, SchemaError

IRCOT_ROW = {"question_id": "q1", "question_text": "Who?", "answers_objects": [{"spans": ["Ann"]}],
             "contexts": [{"id": "0", "title": "A", "paragraph_text": "Ann wrote A.", "is_supporting": True},
                          {"id": "1", "title": "B", "paragraph_text": "Bob.", "is_supporting": False}]}


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_dataset_error_is_schema_error():
    assert issubclass(DatasetError, SchemaError)


def test_bad_json_line_names_file_and_line(tmp_path):
    path = _write(tmp_path / "dev.jsonl", [IRCOT_ROW, IRCOT_ROW | {"question_id": "q2"}, '{"question_id": "q3",'])
    with pytest.raises(DatasetError) as err:
        load_dataset("hotpotqa-ircot", path)
    assert str(path) in str(err.value) and ":3:" in str(err.value) and "invalid JSON" in str(err.value)


def test_non_object_line(tmp_path):
    path = _write(tmp_path / "dev.jsonl", ["[1, 2]"])
    with pytest.raises(DatasetError, match=r"dev\.jsonl:1: expected a JSON object, got list"):
        load_dataset("musique", path)


@pytest.mark.parametrize("name, row, line_field", [
    ("hotpotqa-ircot", {k: v for k, v in IRCOT_ROW.items() if k != "question_text"}, "'question_text': missing"),
    ("hotpotqa-ircot", IRCOT_ROW | {"contexts": [{"title": "A"}]}, "'contexts[0].paragraph_text': missing"),
    ("hotpotqa-ircot", IRCOT_ROW | {"contexts": "oops"}, "'contexts': expected list, got str"),
    ("hotpotqa", {"_id": "x", "question": "q", "answer": "a", "supporting_facts": [["A", 0]],
                  "context": [["A", "not a list"]]}, "'context[0]': expected [title, [sentence, ...]]"),
    ("hotpotqa", {"_id": "x", "question": "q", "answer": "a", "supporting_facts": [["A"]],
                  "context": [["A", ["s."]]]}, "'supporting_facts[0]': expected [title, sentence index]"),
    ("musique", {"id": "2hop__1_2", "question": "q", "answer": "a", "paragraphs": [{"idx": 0, "title": "t"}]},
     "'paragraphs[0].paragraph_text': missing"),
    ("musique", {"id": "2hop__1_2", "question": "q", "answer": "a", "answer_aliases": [["x"]], "paragraphs": []},
     "'answer_aliases[0]': expected a string"),
    ("bamboogle", {"Question": "q"}, "'Answer': missing"),
    ("multihop-rag", {"sample_id": "0", "query": "q", "answer": "a", "evidence_list": [{"title": "t"}]},
     "'evidence_list[0].fact': missing"),
    ("jsonl", {"id": "q", "question": "?", "passages": [{"id": "p"}]}, "'passages[0].text': missing"),
    ("jsonl", {"id": "q", "question": "?", "passages": [], "gold_ids": ["p"]}, "'gold_ids': unknown field"),
])
def test_missing_or_bad_field_names_file_line_field(tmp_path, name, row, line_field):
    good = {"hotpotqa-ircot": IRCOT_ROW,
            "jsonl": {"id": "q0", "question": "?", "passages": [{"text": "x"}]}}.get(name)
    rows = [good, row] if good else [row]
    path = _write(tmp_path / "data.jsonl", rows)
    with pytest.raises(DatasetError) as err:
        load_dataset(name, path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{len(rows)}: field "), msg
    assert line_field in msg, msg


def test_duplicate_passage_ids_in_a_pool(tmp_path):
    path = _write(tmp_path / "g.jsonl", [{"id": "q", "question": "?", "passages": [{"id": "p", "text": "a"},
                                                                                   {"id": "p", "text": "b"}]}])
    with pytest.raises(DatasetError, match=r"g\.jsonl:1: field 'passages': .*duplicate passage ids \['p'\]"):
        load_dataset("jsonl", path)


def test_openret_id_without_qa_row(tmp_path):
    qa = _write(tmp_path / "dev_qa.jsonl", [{"id": 0, "Question": "q", "answer": ["a"], "golden_context": ["T\n x"]}])
    ret = _write(tmp_path / "dev_retrieved_bge_top10.jsonl",
                 [{"id": 0, "query": "q", "context": [["1", '"T"\nT x'], ["2", '"U"\nU y']]},
                  {"id": 7, "query": "q", "context": []}])
    with pytest.raises(DatasetError, match=r"top10\.jsonl:2: field 'id': 7 has no row in .*dev_qa\.jsonl"):
        load_dataset("openret", tmp_path)
    _write(ret, [{"id": 0, "query": "q", "context": [["1", '"T"\nT x'], ["2", '"U"\nU y'], ["1", '"T"\nT x']]}])
    [c] = load_dataset("openret", ret, qa_path=qa)
    assert c.ids == ["1", "2"] and c.query.gold_passage_ids == ["1"]  # a repeated id keeps its first rank
    assert (c.passages[0].title, c.passages[0].text) == ("T", "x")
    _write(ret, [{"id": 0, "query": "q", "context": [["1"]]}])
    with pytest.raises(DatasetError, match=r"field 'context\[0\]': expected \[passage_id, text\]"):
        load_dataset("openret", ret)


def test_openret_needs_a_qa_file(tmp_path):
    ret = _write(tmp_path / "retrieved.jsonl", [{"id": 0, "query": "q", "context": []}])
    with pytest.raises(DatasetError, match="--qa"):
        load_dataset("openret", ret)


def test_generic_round_trips_setsel_files(tmp_path):
    cands = [Candidates(query=Query(id="q1", question="Who wrote X?", answers=["Ann"], gold_passage_ids=["p2"],
                                    evidence=["Ann wrote X"]),
                        passages=[Passage(id="p1", title="Y", text="Bob wrote Y."),
                                  Passage(id="p2", title="X", text="Ann wrote X.")], scores=[0.5, 0.4],
                        retriever="bm25")]
    for suffix in ("parquet", "jsonl"):
        path = write_records(tmp_path / f"c.{suffix}", cands)
        assert load_dataset("jsonl", path) == cands
    simple = _write(tmp_path / "simple.jsonl", [{"id": "q1", "question": "Who?", "answers": ["Ann"],
                                                 "passages": [{"title": "X", "text": "Ann wrote X."},
                                                              {"id": "b", "text": "Bob."}],
                                                 "gold_passage_ids": ["q1#0"], "qtype": "bridge"}])
    [c] = load_dataset("jsonl", simple)
    assert c.ids == ["q1#0", "b"] and c.query.gold_passage_ids == ["q1#0"] and c.query.qtype == "bridge"


def test_generic_bad_schema_version(tmp_path):
    path = _write(tmp_path / "c.jsonl", [{"schema_version": 99, "query": {"id": "q", "question": "?"},
                                          "passages": []}])
    with pytest.raises(DatasetError, match=r"c\.jsonl:1: .*schema_version 99"):
        load_dataset("jsonl", path)


def test_registry_errors_and_names(tmp_path):
    assert set(list_datasets()) == {"hotpotqa-ircot", "hotpotqa", "2wiki", "musique", "bamboogle", "openret",
                                    "multihop-rag", "jsonl", "demo",
                                    "2wiki-train", "hotpotqa-amor-train", "hotpotqa-train", "musique-train"}
    with pytest.raises(DatasetError, match="unknown dataset 'nq'; available: hotpotqa-ircot"):
        load_dataset("nq")
    with pytest.raises(DatasetError, match="needs a path"):
        load_dataset("jsonl")
    with pytest.raises(DatasetError, match="takes no qa file"):
        load_dataset("musique", qa_path="x.jsonl")
    with pytest.raises(DatasetError, match="embedded and takes no path"):
        load_dataset("demo", "x.jsonl")
    with pytest.raises(FileNotFoundError, match="no_such.jsonl"):
        load_dataset("musique", tmp_path / "no_such.jsonl")


def test_demo_is_registered():
    cands = load_dataset("demo", limit=4)
    assert len(cands) == 4 and all(len(c.passages) == 10 for c in cands)


def test_data_dir_from_environment(tmp_path, monkeypatch):
    folder = tmp_path / "hotpotqa_ircot500"
    folder.mkdir()
    _write(folder / "dev.jsonl", [IRCOT_ROW])
    monkeypatch.setenv("SETSEL_DATA_DIR", str(tmp_path))
    [c] = load_dataset("hotpotqa-ircot")
    assert c.query.id == "q1" and c.ids == ["q1#0", "q1#1"] and c.query.gold_passage_ids == ["q1#0"]
    assert c.query.answers == ["Ann"]
