"""Corpora: read passage files, normalise them into an index's ``passages.parquet``, and pool
the paragraphs of a benchmark into a de-duplicated corpus with its gold labels.

Corpus files are JSONL or Parquet with one passage per row: ``id`` (str/int, unique),
``title`` (optional), ``text``; other columns are ignored. Rows written by
:func:`setsel.io.write_records` with :class:`~setsel.types.Passage` records work too.

Bad rows are handled as the standards ask: a missing/duplicate ``id`` or a row that is not
an object is an error naming file and line; a passage whose text (and title) is empty is
skipped and *counted* (``skipped_empty`` in the index manifest) — it can never be retrieved
usefully, and dropping it silently would hide a broken export.

Example:
    >>> from setsel.datasets import load_dataset                       # doctest: +SKIP
    >>> pooled = pool_candidates(load_dataset("hotpotqa-ircot"))       # doctest: +SKIP
    >>> len(pooled.passages), pooled.queries[0].gold_passage_ids        # doctest: +SKIP
    (4963, ['p-3f1c…', 'p-9a0e…'])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from setsel.datasets.common import DatasetError, iter_jsonl
from setsel.text import fix_text
from setsel.types import Candidates, Passage, Query


class CorpusError(DatasetError):
    """A malformed corpus or queries file (message names file, line and field)."""


PASSAGE_COLUMNS = ("id", "title", "text")


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line_or_row_number, row)`` from a JSONL or Parquet file (Parquet read batch-wise)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        cols = [c for c in pf.schema_arrow.names if c in PASSAGE_COLUMNS or c in ("question", "answers",
                                                                                 "gold_passage_ids", "evidence",
                                                                                 "qtype")]
        n = 0
        for batch in pf.iter_batches(batch_size=8192, columns=cols):
            for row in batch.to_pylist():
                n += 1
                yield n, row
    elif name.endswith(".jsonl") or name.endswith(".json"):
        yield from iter_jsonl(path)
    else:
        raise CorpusError(f"{path}: unknown file type (use .jsonl or .parquet)")


def iter_passages(path: str | Path, stats: dict | None = None) -> Iterator[Passage]:
    """Passages of a corpus file, cleaned (:func:`setsel.text.fix_text`), empty ones skipped.

    ``stats`` (optional dict) receives ``rows`` and ``skipped_empty`` counts.
    Raises:
        CorpusError: malformed row, missing/duplicate id, non-string text.
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such corpus file")
    stats = {} if stats is None else stats
    stats.setdefault("rows", 0)
    stats.setdefault("skipped_empty", 0)
    seen: set[str] = set()
    for lineno, row in _rows(path):
        stats["rows"] += 1
        pid = row.get("id")
        if pid is None or isinstance(pid, bool) or not isinstance(pid, (str, int)) or str(pid) == "":
            raise CorpusError(f"{path}:{lineno}: field 'id': a non-empty string or integer is required")
        pid = str(pid)
        if pid in seen:
            raise CorpusError(f"{path}:{lineno}: duplicate passage id {pid!r}")
        seen.add(pid)
        title, text = row.get("title") or "", row.get("text")
        if not isinstance(text, str) or not isinstance(title, str):
            raise CorpusError(f"{path}:{lineno}: fields 'title'/'text' must be strings (id {pid!r})")
        title, text = fix_text(title), fix_text(text)
        if not text.strip() and not title.strip():
            stats["skipped_empty"] += 1
            continue
        yield Passage(id=pid, title=title, text=text)


def write_passages(passages: Iterable[Passage], path: str | Path, batch_rows: int = 65536) -> int:
    """Stream passages into a Parquet file (columns id, title, text) atomically; returns the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    schema = pa.schema([("id", pa.string()), ("title", pa.string()), ("text", pa.string())])
    n = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        buf: list[Passage] = []
        for p in passages:
            buf.append(p)
            if len(buf) >= batch_rows:
                writer.write_table(_table(buf, schema))
                n += len(buf)
                buf = []
        if buf or n == 0:
            writer.write_table(_table(buf, schema))
            n += len(buf)
    tmp.replace(path)
    return n


def _table(buf: list[Passage], schema):
    import pyarrow as pa

    return pa.table({"id": [p.id for p in buf], "title": [p.title for p in buf], "text": [p.text for p in buf]},
                    schema=schema)


def read_passages(path: str | Path, start: int = 0, stop: int | None = None) -> list[Passage]:
    """Rows ``[start, stop)`` of a ``passages.parquet`` written by :func:`write_passages`."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(PASSAGE_COLUMNS), memory_map=True)
    stop = table.num_rows if stop is None else min(stop, table.num_rows)
    part = table.slice(start, max(0, stop - start)).to_pydict()
    return [Passage(id=i, title=t, text=x) for i, t, x in zip(part["id"], part["title"], part["text"])]


def count_rows(path: str | Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


# ----------------------------------------------------------------------------- pooling
def content_id(title: str, text: str) -> str:
    """A stable id from the content: ``p-`` + 16 hex digits of sha1(title ⏎ text)."""
    return "p-" + hashlib.sha1(f"{title.strip()}\n{text.strip()}".encode()).hexdigest()[:16]


@dataclass
class PooledCorpus:
    """A benchmark's paragraphs de-duplicated into one corpus, and its queries re-labelled.

    ``queries[i].gold_passage_ids`` refer to ``passages[j].id``; ``id_map`` maps each
    ``(query id, original passage id)`` to the corpus id, so any label can be traced back.
    """

    passages: list[Passage]
    queries: list[Query]
    id_map: dict[str, dict[str, str]] = field(default_factory=dict)
    duplicates: int = 0


def pool_candidates(candidates: Iterable[Candidates]) -> PooledCorpus:
    """Pool every candidate paragraph of a benchmark into one de-duplicated corpus.

    Identical (title, text) pairs — the same Wikipedia paragraph appearing in several
    questions' pools — become one passage with a content id (:func:`content_id`); each
    query's gold ids are mapped to it. Empty paragraphs are dropped (and not gold).
    """
    passages: dict[str, Passage] = {}
    queries: list[Query] = []
    id_map: dict[str, dict[str, str]] = {}
    duplicates = 0
    for c in candidates:
        local: dict[str, str] = {}
        for p in c.passages:
            title, text = fix_text(p.title), fix_text(p.text)
            if not text.strip() and not title.strip():
                continue
            cid = content_id(title, text)
            local[p.id] = cid
            if cid in passages:
                duplicates += 1
            else:
                passages[cid] = Passage(id=cid, title=title, text=text, doc_id=p.doc_id)
        gold = [local[g] for g in c.query.gold_passage_ids if g in local]
        q = c.query
        queries.append(Query(id=q.id, question=q.question, answers=list(q.answers),
                             gold_passage_ids=list(dict.fromkeys(gold)), evidence=list(q.evidence), qtype=q.qtype))
        id_map[q.id] = local
    return PooledCorpus(list(passages.values()), queries, id_map, duplicates)


def read_queries(path: str | Path) -> list[Query]:
    """Queries from JSONL/Parquet: ``id``, ``question`` and optional labels; or a setsel Query/
    Candidates file (:mod:`setsel.io`), whose ``query`` part is used."""
    from setsel.io import read_records

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such queries file")
    kind = None
    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        kind = ((pq.read_schema(path).metadata or {}).get(b"setsel.record") or b"").decode() or None
    if kind == "Query":
        return read_records(path, Query)
    if kind == "Candidates":
        return [c.query for c in read_records(path, Candidates)]
    out, seen = [], set()
    for lineno, row in _rows(path):
        if "query" in row and isinstance(row["query"], dict):  # a Candidates JSONL row
            row = row["query"]
        qid, question = row.get("id"), row.get("question")
        if qid is None or isinstance(qid, bool) or not isinstance(qid, (str, int)) or str(qid) == "":
            raise CorpusError(f"{path}:{lineno}: field 'id': a non-empty string or integer is required")
        if not isinstance(question, str) or not question.strip():
            raise CorpusError(f"{path}:{lineno}: field 'question': a non-empty string is required")
        if str(qid) in seen:
            raise CorpusError(f"{path}:{lineno}: duplicate query id {qid!r}")
        seen.add(str(qid))
        lists = {}
        for key in ("answers", "gold_passage_ids", "evidence"):
            value = row.get(key) or []
            if isinstance(value, str):
                value = json.loads(value) if value.startswith("[") else [value]
            if not isinstance(value, list):
                raise CorpusError(f"{path}:{lineno}: field {key!r}: expected a list")
            lists[key] = [str(v) for v in value]
        out.append(Query(id=str(qid), question=question, qtype=row.get("qtype"), **lists))
    return out


def write_queries(queries: list[Query], path: str | Path) -> Path:
    """Queries as a plain JSONL file (one object per line) that :func:`read_queries` reads back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for q in queries:
            fh.write(json.dumps(q.to_dict(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
