"""Bamboogle loader (``bamboogle``): questions and answers only, no passages.

Bamboogle is an open-web benchmark: every :class:`~setsel.types.Candidates` has an
**empty pool** (retrieval metrics are undefined; answer generation runs with no context).
For selection experiments use the retrieved pool of ``openret`` (``openret_bge/bamboogle``),
which holds the same questions.

- Query id: ``bamboogle-`` + the first 12 hex digits of the SHA-1 of the question
  (lower-cased, whitespace collapsed), so ids do not depend on line numbers.
- Answers: ``Answer``. Evidence: the sub-answers ``A1`` then ``A2`` (the authors'
  decomposition), de-duplicated.

Example:
    >>> c = load_bamboogle(data_dir() / "bamboogle/dev.jsonl")[0]  # doctest: +SKIP
    >>> c.query.answers, c.passages                                # doctest: +SKIP
    (['1999'], [])
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from setsel.datasets.common import Row, iter_jsonl
from setsel.types import Candidates, Query


def bamboogle_id(question: str) -> str:
    """Stable id of a Bamboogle question (see the module docstring)."""
    key = re.sub(r"\s+", " ", question).strip().lower()
    return "bamboogle-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def load_bamboogle(path: str | Path) -> list[Candidates]:
    """Bamboogle rows → Candidates with empty pools."""
    out = []
    for lineno, data in iter_jsonl(path):
        row = Row(data, path, lineno)
        question = row.get("Question", str)
        evidence: list[str] = []
        for field in ("A1", "A2"):
            for answer in row.str_list(field, default=[]):
                if answer.strip() and answer.strip() not in evidence:
                    evidence.append(answer.strip())
        query = Query(id=bamboogle_id(question), question=question, answers=[str(row.get("Answer", (str, int)))],
                      evidence=evidence)
        out.append(Candidates(query=query, passages=[], retriever=None))
    return out
