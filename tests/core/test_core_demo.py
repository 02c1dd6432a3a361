"""Integrity of the embedded demo set (setsel/data/demo, setsel/datasets/demo.py)."""

import random
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import setsel
import setsel.datasets.demo as demo
from setsel.datasets.demo import demo_corpus, demo_queries, load_demo
from setsel.types import Candidates, SchemaError

# For each question, term pairs that must never occur together in ONE passage (title or
# text): each pair would be a single-passage shortcut around a hop. Written by hand from
# the questions: e.g. q01 needs "Tessaly Bridge -> Reddick Foundry" and "Reddick Foundry ->
# 1887" from two passages, so no passage may mention both Tessaly and 1887.
SHORTCUTS = {
    "q01": [("Tessaly", "1887")],
    "q02": [("tide gauge", "Amsel"), ("Varnholt", "Amsel"), ("tide gauge", "Brindlemoor")],
    "q03": [("Span of Iron", "1920"), ("Span of Iron", "1934"), ("1920", "1934")],
    "q04": [("Salt Ledger", "Halcyon")],
    "q05": [("Low Tide", "Halcyon"), ("Low Tide", "Lukas"), ("Maren Oakes", "Lukas")],
    "q06": [("1887", "1950")],
    "q07": [("Tessaly", "cello"), ("Span of Iron", "cello"), ("Tessaly", "Joren Kettle")],
    "q08": [("Tessaly", "cider"), ("Sallow", "cider"), ("opened", "Marrowgate")],
    "q09": [("Salt Ledger", "Oskenfeld College"), ("Salt Ledger", "studied")],
    "q10": [("Reddick", "Dunmere")],
    "q11": [("84 kilometres", "61 kilometres")],
    "q12": [("tide gauge", "2003"), ("Ilse", "2003"), ("tide gauge", "Lukas")],
}


def _full(p):
    return f"{p.title} {p.text}".lower()


def test_sizes_and_unique_ids():
    corpus, queries = demo_corpus(), demo_queries()
    ids = [p.id for p in corpus]
    assert len(ids) == len(set(ids)) >= 30
    assert len({q.id for q in queries}) == len(queries) >= 10
    assert {q.qtype for q in queries} == {"bridge", "comparison"}
    assert sum(q.qtype == "comparison" for q in queries) == 3
    for p in corpus:
        assert p.title.strip() and 40 <= len(p.text.split()) <= 120, p.id


def test_every_question_is_multi_hop_with_its_gold_in_the_pool():
    by_id = {p.id: p for p in demo_corpus()}
    pools = load_demo()
    assert [c.query.id for c in pools] == [q.id for q in demo_queries()]
    for c in pools:
        q = c.query
        assert c.retriever == "demo" and c.scores is None
        assert len(c.passages) == 10 and len(set(c.ids)) == 10
        assert len(q.gold_passage_ids) >= 2 and len(set(q.gold_passage_ids)) == len(q.gold_passage_ids)
        assert set(q.gold_passage_ids) <= set(c.ids), q.id
        assert c.ids[: len(q.gold_passage_ids)] != q.gold_passage_ids  # gold is not simply listed first
        assert [p.text for p in c.passages] == [by_id[i].text for i in c.ids]


def test_answers_are_stated_in_the_gold_passages():
    by_id = {p.id: p for p in demo_corpus()}
    for q in demo_queries():
        assert q.answers and all(a.strip() for a in q.answers), q.id
        gold_text = " ".join(_full(by_id[g]) for g in q.gold_passage_ids)
        for answer in q.answers:
            assert answer.lower() in gold_text, (q.id, answer)


def test_evidence_spans_cover_every_gold_passage():
    by_id = {p.id: p for p in demo_corpus()}
    for q in demo_queries():
        assert q.evidence, q.id
        for span in q.evidence:
            assert any(span in by_id[g].text for g in q.gold_passage_ids), (q.id, span)
        for g in q.gold_passage_ids:  # every gold passage contributes a needed fact
            assert any(span in by_id[g].text for span in q.evidence), (q.id, g)
        assert any(a.lower() in " ".join(q.evidence).lower() for a in q.answers), q.id


def test_no_single_passage_shortcut():
    corpus = demo_corpus()
    assert set(SHORTCUTS) == {q.id for q in demo_queries()}
    for qid, pairs in SHORTCUTS.items():
        for a, b in pairs:
            both = [p.id for p in corpus if a.lower() in _full(p) and b.lower() in _full(p)]
            assert both == [], (qid, a, b, both)
    # Bridge answers are absent from the first hop: it names the bridge entity, not the answer.
    by_id = {p.id: p for p in corpus}
    for q in demo_queries():
        if q.qtype == "bridge":
            first = _full(by_id[q.gold_passage_ids[0]])
            assert not any(a.lower() in first for a in q.answers), q.id


def test_distractors_share_entities_and_near_duplicates_exist():
    by_id = {p.id: p for p in demo_corpus()}
    pools = {c.query.id: c for c in load_demo()}
    # Near-duplicate pairs sit together in a pool: the copy repeats the subject, not the needed fact.
    assert {"tessaly-bridge", "tessaly-bridge-guide", "tessaly-bridge-history"} <= set(pools["q01"].ids)
    assert {"reddick-foundry", "reddick-works-today"} <= set(pools["q06"].ids)
    assert {"halcyon-ferries", "halcyon-fleet"} <= set(pools["q04"].ids)
    assert "1887" not in by_id["reddick-works-today"].text and "Reddick Foundry" in by_id["reddick-works-today"].title
    for c in pools.values():
        # Every pool has at least two distractors that name a gold passage's subject (title
        # without "(...)") or an answer, so matching entities alone does not find the gold set.
        terms = [by_id[g].title.split(" (")[0].lower() for g in c.query.gold_passage_ids]
        terms += [a.lower() for a in c.query.answers]
        sharing = [i for i in c.ids if i not in c.query.gold_passage_ids and any(t in _full(by_id[i]) for t in terms)]
        assert len(sharing) >= 2, (c.query.id, sharing)


def test_shuffle_is_deterministic_and_keeps_pool_and_gold():
    plain = load_demo()
    a, b, other = load_demo(shuffle_seed=3), load_demo(shuffle_seed=3), load_demo(shuffle_seed=4)
    assert [c.ids for c in a] == [c.ids for c in b]
    assert sum(x.ids != y.ids for x, y in zip(a, plain)) >= 10  # permuted (a 10-pool stays put with p=1/10!)
    assert [c.ids for c in a] != [c.ids for c in other]
    for x, y in zip(a, plain):
        assert sorted(x.ids) == sorted(y.ids) and x.query == y.query
    assert [c.ids for c in load_demo(shuffle_seed=None)] == [c.ids for c in plain]
    # The documented rule (shared with setsel.selection.base.shuffle_candidates): the file-order
    # pool shuffled by random.Random(f"{seed}:{query id}").
    for x, y in zip(a, plain):
        expected = list(y.ids)
        random.Random(f"3:{y.query.id}").shuffle(expected)
        assert x.ids == expected
    with pytest.raises(TypeError, match="shuffle_seed"):
        load_demo(shuffle_seed="3")


def test_loads_return_independent_records():
    a, b = load_demo(), load_demo()
    a[0].passages[0].text = "changed"
    a[0].query.answers.append("x")
    assert b[0].passages[0].text != "changed" and b[0].query.answers == ["1887"]
    assert load_demo()[0].passages[0].text != "changed"
    shared = [c for c in a if "tessaly-bridge-guide" in c.ids and c is not a[0]]
    assert all(p.text != "changed" for c in shared for p in c.passages)


@pytest.mark.parametrize(
    "passages,questions,message",
    [
        (None, '{"id": "x", "question": "?", "answers": ["a"], "gold_passage_ids": ["tessaly-bridge", "nowhere"], '
               '"qtype": "bridge", "candidate_ids": ["tessaly-bridge", "nowhere"]}\n',
         r"demo question x: unknown passage id\(s\) \['nowhere'\]"),
        (None, '{"id": "x", "question": "?", "answers": ["a"], "gold_passage_ids": ["oskenfeld"], '
               '"qtype": "bridge", "candidate_ids": ["tessaly-bridge"]}\n',
         r"gold passage\(s\) \['oskenfeld'\] not in its candidate_ids"),
        (None, '{"id": "x", "question": "?", "answers": ["a"], "gold_passage_ids": [], "qtype": "bridge"}\n',
         r"questions\.jsonl:1: missing field\(s\) \['candidate_ids'\]"),
        (None, '{"id": "x", "question": "?", "answers": "a", "gold_passage_ids": [], "qtype": "bridge", '
               '"candidate_ids": []}\n', r"field 'answers' must be a list"),
        ('{"id": "a", "title": "A", "text": "x"}\n{"id": "a", "title": "B", "text": "y"}\n', None,
         r"duplicate passage id 'a'"),
        ('{"id": "a", "title": "A", "text": "x", "url": "u"}\n', None,
         r"passages\.jsonl:1: .*unknown field\(s\) \['url'\]"),
        ('{"id": "a", "title": "A", "text": "x"}\n\n{not json\n', None, r"demo/passages\.jsonl:3: invalid JSON"),
        ("\n", None, r"demo/passages\.jsonl: no records"),
    ],
)
def test_invalid_files_raise_clear_errors(monkeypatch, passages, questions, message):
    real = demo._read_text

    def fake(name):
        if name == demo.PASSAGES_FILE and passages is not None:
            return passages
        if name == demo.QUESTIONS_FILE and questions is not None:
            return questions
        return real(name)

    monkeypatch.setattr(demo, "_read_text", fake)
    with pytest.raises(SchemaError, match=message):
        load_demo()


def test_loads_from_a_zipped_package(tmp_path):
    """importlib.resources, not __file__ paths: the set loads from a zip of the package."""
    root = Path(setsel.__file__).parent
    archive = tmp_path / "setsel.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, Path("setsel") / path.relative_to(root))
    code = (
        f"import sys; sys.path.insert(0, {str(archive)!r})\n"
        "import setsel, setsel.datasets.demo as d\n"
        "assert setsel.__file__.startswith(sys.path[0]), setsel.__file__\n"
        "c = d.load_demo(); print(len(d.demo_corpus()), len(c), c[0].query.gold_passage_ids[1])\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["41", "12", "reddick-foundry"]


def test_candidates_round_trip():
    for c in load_demo(shuffle_seed=1):
        assert Candidates.from_dict(c.to_dict()) == c
