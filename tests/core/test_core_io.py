"""Parquet/JSONL record I/O with schema versions (setsel/io.py)."""

import json

import pytest

from setsel.io import read_candidates, read_metadata, read_records, write_records
from setsel.types import Candidates, Passage, Query, SampledSet, SchemaError, Selection


def _cands():
    return [Candidates(query=Query(id=f"q{i}", question=f"Q{i}?", answers=["a"], gold_passage_ids=["p1"]),
                       passages=[Passage(id="p1", title="T", text="x"), Passage(id="p2", title="U", text="y")],
                       scores=[2.0, 1.0], retriever="bm25") for i in range(3)]


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_round_trip(tmp_path, suffix):
    path = tmp_path / f"c.{suffix}"
    write_records(path, _cands(), extra_metadata={"k": 20})
    assert read_candidates(path) == _cands()
    sels = [Selection(query_id="q0", method="setr", selected_ids=["p2"], raw_output="### Final Selection: [2]")]
    write_records(tmp_path / f"s.{suffix}", sels)
    assert read_records(tmp_path / f"s.{suffix}", Selection) == sels
    sets = [SampledSet(query_id="q0", sample=1, subqueries=["a?"], raw_ids=["1", "2"], refined_ids=["2"], H=1.2, dH=-0.3, P=0.6)]
    write_records(tmp_path / f"ss.{suffix}", sets)
    assert read_records(tmp_path / f"ss.{suffix}", SampledSet) == sets


def test_metadata(tmp_path):
    write_records(tmp_path / "c.parquet", _cands(), extra_metadata={"alpha": 1.5, "models": ["m"]})
    assert read_metadata(tmp_path / "c.parquet") == {"alpha": 1.5, "models": ["m"]}


def test_errors(tmp_path):
    write_records(tmp_path / "s.parquet", [Selection(query_id="q", method="m", selected_ids=[])])
    with pytest.raises(SchemaError, match="expected Candidates"):
        read_candidates(tmp_path / "s.parquet")
    corrupt = tmp_path / "bad.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(SchemaError, match="not a readable Parquet"):
        read_candidates(corrupt)
    bad = tmp_path / "bad.jsonl"
    good_line = json.dumps(_cands()[0].to_dict())
    bad.write_text(good_line + "\n{oops\n")
    with pytest.raises(SchemaError, match=r"bad\.jsonl:2"):
        read_candidates(bad)
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({**_cands()[0].to_dict(), "schema_version": 0}) + "\n")
    with pytest.raises(SchemaError, match="schema_version"):
        read_candidates(old)
    with pytest.raises(FileNotFoundError):
        read_candidates(tmp_path / "none.parquet")
    with pytest.raises(SchemaError, match="unknown file type"):
        write_records(tmp_path / "x.csv", _cands())
