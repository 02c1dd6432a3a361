"""Parquet/JSONL record I/O with schema versions (setsel/io.py)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from setsel.io import iter_records, read_candidates, read_metadata, read_records, write_records
from setsel.types import SCHEMA_VERSION, Candidates, Passage, Query, SampledSet, SchemaError, Selection


def _cands():
    return [
        Candidates(query=Query(id=f"q{i}", question=f"Q{i}? «ünïcode»", answers=["a"], gold_passage_ids=["p1"],
                               evidence=["x"], qtype="bridge"),
                   passages=[Passage(id="p1", title="T", text="x", metadata={"rank": 1}),
                             Passage(id="p2", title="U", text="y [1]", doc_id="d2")],
                   scores=None if i == 1 else [2.0, 1.0], retriever="bm25")
        for i in range(3)
    ]


def _selections():
    return [Selection(query_id="q0", method="setr", selected_ids=["p2", "p1"], ordered=True,
                      raw_output="### Final Selection: [2] [1]", parse_status="ok", prompt_tokens=120,
                      completion_tokens=9, latency_s=0.5),
            Selection(query_id="q1", method="setr", selected_ids=["p1"], parse_status="failed",
                      fallback_used="topk:1", problems=["no header"])]


def _sampled():
    return [SampledSet(query_id="q0", sample=k, subqueries=["a?", "b?"], raw_ids=["1", "2"], refined_ids=["2"],
                       H=1.25, dH=-0.5 + k, P=0.75, permutation=[1, 0]) for k in range(2)]


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
@pytest.mark.parametrize("make,cls", [(_cands, Candidates), (_selections, Selection), (_sampled, SampledSet)])
def test_round_trip(tmp_path, suffix, make, cls):
    path = write_records(tmp_path / "sub" / f"r.{suffix}", make())  # parent folder created
    assert path == tmp_path / "sub" / f"r.{suffix}"
    assert read_records(path, cls) == make()
    assert list(iter_records(path, cls)) == make()
    assert not (tmp_path / "sub" / f"r.{suffix}.tmp").exists()  # atomic: temp file renamed


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_round_trip_passages_and_queries(tmp_path, suffix):
    passages = [Passage(id=str(i), title=f"t{i}", text="w " * i, metadata={"n": i}) for i in range(4)]
    write_records(tmp_path / f"p.{suffix}", passages)
    assert read_records(tmp_path / f"p.{suffix}", Passage) == passages
    queries = [c.query for c in _cands()]
    write_records(tmp_path / f"q.{suffix}", queries)
    assert read_records(tmp_path / f"q.{suffix}", Query) == queries
    assert read_candidates(write_records(tmp_path / f"c.{suffix}", _cands())) == _cands()


def test_jsonl_rows_carry_the_schema_version(tmp_path):
    write_records(tmp_path / "s.jsonl", _selections())
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["schema_version"] for r in rows] == [SCHEMA_VERSION, SCHEMA_VERSION]
    assert rows[0]["selected_ids"] == ["p2", "p1"]


def test_parquet_is_plain_columns_with_setsel_metadata(tmp_path):
    write_records(tmp_path / "c.parquet", _cands())
    table = pq.read_table(tmp_path / "c.parquet")
    assert table.column_names == ["query", "passages", "scores", "retriever"]
    assert table.schema.field("passages").type == pa.string()  # nested values stored as JSON text
    assert json.loads(table.column("passages")[0].as_py())[1]["id"] == "p2"
    meta = table.schema.metadata
    assert meta[b"setsel.schema_version"] == str(SCHEMA_VERSION).encode()
    assert meta[b"setsel.record"] == b"Candidates"


def test_metadata(tmp_path):
    write_records(tmp_path / "c.parquet", _cands(), extra_metadata={"alpha": 1.5, "models": ["m"], "cfg": {"k": 20}})
    assert read_metadata(tmp_path / "c.parquet") == {"alpha": 1.5, "models": ["m"], "cfg": {"k": 20}}
    write_records(tmp_path / "bare.parquet", _cands())
    assert read_metadata(tmp_path / "bare.parquet") == {}
    write_records(tmp_path / "c.jsonl", _cands(), extra_metadata={"alpha": 1.5})
    assert read_metadata(tmp_path / "c.jsonl") == {}  # JSONL stores no file metadata


@pytest.mark.parametrize("suffix", ["parquet", "jsonl"])
def test_empty_file_reads_back_empty(tmp_path, suffix):
    write_records(tmp_path / f"e.{suffix}", [])
    assert read_records(tmp_path / f"e.{suffix}", Selection) == []


def test_wrong_record_kind(tmp_path):
    write_records(tmp_path / "s.parquet", _selections())
    with pytest.raises(SchemaError, match="holds Selection records, expected Candidates"):
        read_candidates(tmp_path / "s.parquet")
    write_records(tmp_path / "s.jsonl", _selections())  # JSONL: the row itself does not fit
    with pytest.raises(SchemaError, match=r"s\.jsonl:1: Candidates: expected an object with 'query'"):
        read_candidates(tmp_path / "s.jsonl")
    write_records(tmp_path / "ss.jsonl", _sampled())
    with pytest.raises(SchemaError, match=r"ss\.jsonl:1: Selection: unknown field"):
        read_records(tmp_path / "ss.jsonl", Selection)


def test_corrupt_and_foreign_parquet(tmp_path):
    corrupt = tmp_path / "bad.parquet"
    corrupt.write_bytes(b"PAR1 not really a parquet file PAR1")
    with pytest.raises(SchemaError, match=r"bad\.parquet: not a readable Parquet file"):
        read_candidates(corrupt)
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), foreign)
    with pytest.raises(SchemaError, match="not a setsel file"):
        read_candidates(foreign)


def test_wrong_schema_version(tmp_path):
    path = tmp_path / "c.parquet"
    write_records(path, _cands())
    table = pq.read_table(path)
    meta = {**table.schema.metadata, b"setsel.schema_version": str(SCHEMA_VERSION + 1).encode()}
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "new.parquet")
    with pytest.raises(SchemaError, match=f"schema_version {SCHEMA_VERSION + 1} is not supported"):
        read_candidates(tmp_path / "new.parquet")
    meta[b"setsel.schema_version"] = b"v1?"  # unreadable version: still a SchemaError, not a bare ValueError
    pq.write_table(table.replace_schema_metadata(meta), tmp_path / "odd.parquet")
    with pytest.raises(SchemaError, match=r"schema_version v1\? is not supported"):
        read_candidates(tmp_path / "odd.parquet")
    old = tmp_path / "old.jsonl"
    lines = [json.dumps({"schema_version": SCHEMA_VERSION, **c.to_dict()}) for c in _cands()]
    lines[2] = json.dumps({**_cands()[2].to_dict(), "schema_version": 0})
    old.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"old\.jsonl:3: .*schema_version 0 is not supported"):
        read_candidates(old)


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(_cands()[0].to_dict())
    bad.write_text(good + "\n\n" + good.replace('"q0"', '"q9"') + "\n{oops\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"bad\.jsonl:4: invalid JSON"):
        read_candidates(bad)
    it = iter_records(bad, Candidates)  # records before the bad line are still yielded (streaming)
    assert next(it).query.id == "q0" and next(it).query.id == "q9"
    with pytest.raises(SchemaError, match=r"bad\.jsonl:4"):
        next(it)
    dup = tmp_path / "dup.jsonl"
    row = _cands()[1].to_dict()  # the pool without scores
    row["passages"].append(row["passages"][0])
    dup.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match=r"dup\.jsonl:1: Candidates q1: duplicate passage ids \['p1'\]"):
        read_candidates(dup)


def test_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="none.parquet"):
        read_candidates(tmp_path / "none.parquet")
    with pytest.raises(SchemaError, match="unknown file type"):
        write_records(tmp_path / "x.csv", _cands())
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(SchemaError, match="unknown file type"):
        read_candidates(tmp_path / "x.csv")
    write_records(tmp_path / "UPPER.JSONL", _cands())  # suffixes are case-insensitive
    assert read_candidates(tmp_path / "UPPER.JSONL") == _cands()
