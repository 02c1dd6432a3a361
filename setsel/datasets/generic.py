"""Generic candidate files (``jsonl``): your own queries and pools.

Accepted inputs:

1. ``.parquet`` or ``.jsonl`` written by :func:`setsel.io.write_records` with
   :class:`~setsel.types.Candidates` records (rows carry ``schema_version`` and ``query``).
2. The simple JSONL format, one question per line::

       {"id": "q1", "question": "Who wrote X?", "answers": ["Ann"],
        "passages": [{"id": "p1", "title": "X", "text": "Ann wrote X."}, ...],
        "gold_passage_ids": ["p1"], "evidence": ["Ann wrote X"], "qtype": "bridge"}

   Required: ``id``, ``question``, ``passages`` (each with ``text``; ``title`` optional;
   ``id`` optional, default ``<question id>#<position>``). Optional: ``answers``,
   ``gold_passage_ids``, ``evidence``, ``qtype``, ``scores`` (one per passage),
   ``retriever``. Any other key is an error (a typo must not silently drop labels).
   Passages keep the file's order; ids must be unique within a pool.

Both kinds may be mixed in one JSONL file. Errors name file, line and field.

Example:
    >>> cands = load_generic("my_pools.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from setsel.datasets.common import DatasetError, Row, iter_jsonl
from setsel.types import Candidates, Passage, Query, SchemaError

SIMPLE_FIELDS = {"id", "question", "answers", "passages", "gold_passage_ids", "evidence", "qtype", "scores",
                 "retriever"}


def _simple(row: Row) -> Candidates:
    unknown = sorted(set(row.data) - SIMPLE_FIELDS)
    if unknown:
        raise row.error(unknown[0], f"unknown field; valid fields: {sorted(SIMPLE_FIELDS)}")
    qid = str(row.get("id", (str, int)))
    passages = []
    for i in range(len(row.get("passages", list))):
        p = row.child("passages", i)
        pid = p.get("id", (str, int), default=f"{qid}#{i}")
        passages.append(Passage(id=str(pid), title=p.get("title", str, default=""), text=p.get("text", str)))
    scores = row.get("scores", list, default=None)
    if scores is not None and not all(isinstance(s, (int, float)) and not isinstance(s, bool) for s in scores):
        raise row.error("scores", "expected a list of numbers")
    query = Query(id=qid, question=row.get("question", str), answers=row.str_list("answers", default=[]),
                  gold_passage_ids=row.str_list("gold_passage_ids", default=[]),
                  evidence=row.str_list("evidence", default=[]), qtype=row.get("qtype", str, default=None))
    try:
        return Candidates(query=query, passages=passages, scores=scores,
                          retriever=row.get("retriever", str, default=None))
    except SchemaError as exc:
        raise DatasetError(f"{row.path}:{row.lineno}: field 'passages': {exc}") from None


def load_generic(path: str | Path) -> list[Candidates]:
    """A setsel Candidates file (Parquet/JSONL) or the simple JSONL format → Candidates."""
    path = Path(path)
    if path.name.lower().endswith(".parquet"):
        from setsel.io import read_candidates

        try:
            return read_candidates(path)
        except SchemaError as exc:
            raise DatasetError(str(exc)) from None
    out = []
    for lineno, data in iter_jsonl(path):
        if "query" in data:
            try:
                out.append(Candidates.from_dict(data))
            except (SchemaError, TypeError, KeyError) as exc:
                raise DatasetError(f"{path}:{lineno}: {exc}") from None
        else:
            out.append(_simple(Row(data, path, lineno)))
    return out
