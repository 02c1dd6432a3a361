"""Corpus files, bad input, and pooling a benchmark into a corpus with its gold labels."""

from __future__ import annotations

import pytest
from helpers.data import write_jsonl

from setsel.datasets.common import DatasetError
from setsel.retrieval.corpus import (
    CorpusError,
    iter_passages,
    pool_candidates,
    read_passages,
    read_queries,
    write_passages,
    write_queries,
)
from setsel.types import Candidates, Passage, Query


def test_jsonl_and_parquet_round_trip(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [{"id": 1, "title": "A", "text": "alpha", "extra": 3},
                                             {"id": "b", "text": "beta"}])
    stats = {}
    ps = list(iter_passages(src, stats))
    assert [(p.id, p.title, p.text) for p in ps] == [("1", "A", "alpha"), ("b", "", "beta")]
    assert stats == {"rows": 2, "skipped_empty": 0}
    n = write_passages(ps, tmp_path / "c.parquet")
    assert n == 2
    assert [(p.id, p.text) for p in read_passages(tmp_path / "c.parquet", 1, 5)] == [("b", "beta")]
    assert [p.id for p in iter_passages(tmp_path / "c.parquet")] == ["1", "b"]


@pytest.mark.parametrize("line, message", [
    ("{not json", "invalid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"title": "no id", "text": "x"}', "field 'id'"),
    ('{"id": true, "text": "x"}', "field 'id'"),
    ('{"id": "a", "text": 5}', "must be strings"),
])
def test_malformed_rows_name_file_and_line(tmp_path, line, message):
    src = write_jsonl(tmp_path / "bad.jsonl", [{"id": "ok", "text": "fine"}, line])
    with pytest.raises(DatasetError, match=rf"bad.jsonl:2: .*{message}"):  # CorpusError is a DatasetError
        list(iter_passages(src))


def test_duplicate_ids_are_an_error_and_empty_passages_are_counted(tmp_path):
    src = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    with pytest.raises(CorpusError, match="duplicate passage id 'a'"):
        list(iter_passages(src))
    src = write_jsonl(tmp_path / "empty.jsonl", [{"id": "a", "text": "x"}, {"id": "b", "text": "  "},
                                                 {"id": "c", "title": "", "text": ""}])
    stats = {}
    assert [p.id for p in iter_passages(src, stats)] == ["a"]
    assert stats["skipped_empty"] == 2
    with pytest.raises(FileNotFoundError):
        list(iter_passages(tmp_path / "missing.jsonl"))
    with pytest.raises(CorpusError, match="unknown file type"):
        list(iter_passages(write_jsonl(tmp_path / "c.csv", ["a,b"])))


def test_pool_dedupes_shared_paragraphs_and_maps_gold():
    shared = Passage("x1", "Paris", "Paris is the capital of France.")
    c1 = Candidates(Query("q1", "capital of France?", gold_passage_ids=["x1"]),
                    [shared, Passage("x2", "Lyon", "Lyon is a city.")])
    c2 = Candidates(Query("q2", "where is Paris?", gold_passage_ids=["y9", "y1"]),
                    [Passage("y1", "Paris", "Paris is the capital of France."), Passage("y9", "Rome", "Rome.")])
    pooled = pool_candidates([c1, c2])
    assert len(pooled.passages) == 3 and pooled.duplicates == 1
    paris = pooled.id_map["q1"]["x1"]
    assert pooled.id_map["q2"]["y1"] == paris
    assert pooled.queries[0].gold_passage_ids == [paris]
    assert pooled.queries[1].gold_passage_ids == [pooled.id_map["q2"]["y9"], paris]


def test_pool_real_hotpotqa_keeps_every_gold_label(data_dir):
    from setsel.datasets import load_dataset
    from setsel.text import fix_text  # the corpus is ftfy-cleaned: "&amp;" in a title becomes "&"

    cands = load_dataset("hotpotqa-ircot", limit=60)
    pooled = pool_candidates(cands)
    ids = {p.id for p in pooled.passages}
    assert len(ids) == len(pooled.passages) < sum(len(c.passages) for c in cands) + 1
    for c, q in zip(cands, pooled.queries):
        assert q.id == c.query.id and q.answers == c.query.answers
        assert len(q.gold_passage_ids) == len(c.query.gold_passage_ids) == 2
        assert set(q.gold_passage_ids) <= ids
        gold_titles = {fix_text(p.title) for p in c.passages if p.id in c.query.gold_passage_ids}
        assert {p.title for p in pooled.passages if p.id in q.gold_passage_ids} == gold_titles


def test_queries_files(tmp_path):
    qs = [Query("a", "who?", answers=["x"], gold_passage_ids=["p1"]), Query("b", "what?")]
    write_queries(qs, tmp_path / "q.jsonl")
    assert read_queries(tmp_path / "q.jsonl") == qs
    src = write_jsonl(tmp_path / "bad.jsonl", [{"id": "a", "question": ""}])
    with pytest.raises(CorpusError, match="field 'question'"):
        read_queries(src)
    src = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "question": "x"}, {"id": "a", "question": "y"}])
    with pytest.raises(CorpusError, match="duplicate query id"):
        read_queries(src)
