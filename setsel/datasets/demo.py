"""The embedded demo set (``setsel/data/demo``): 41 passages and 12 multi-hop questions.

Written for setsel in its own words (not copied from any benchmark); see
``setsel/data/demo/README.md`` for the format and how it is built. Standard library only;
the files are read through :mod:`importlib.resources`, so this works from an installed
wheel or a zip. Every load validates the files and raises :class:`SchemaError` naming the
file, line or id at fault.

Example:
    >>> from setsel.datasets.demo import demo_corpus, demo_queries, load_demo
    >>> len(demo_corpus()), len(demo_queries())
    (41, 12)
    >>> pools = load_demo()
    >>> pools[0].query.question
    'In what year was the company that spun the main cables of Tessaly Bridge founded?'
    >>> pools[0].query.gold_passage_ids, len(pools[0].passages)
    (['tessaly-bridge', 'reddick-foundry'], 10)
"""

from __future__ import annotations

import json
import random
from importlib import resources
from typing import Any

from setsel.types import Candidates, Passage, Query, SchemaError

PASSAGES_FILE = "passages.jsonl"
QUESTIONS_FILE = "questions.jsonl"

_PASSAGE_FIELDS = {"id": str, "title": str, "text": str}
_QUESTION_FIELDS = {"id": str, "question": str, "answers": list, "gold_passage_ids": list, "qtype": str,
                    "candidate_ids": list}
_QUESTION_OPTIONAL = {"evidence": list}


def _read_text(name: str) -> str:
    """The text of ``setsel/data/demo/<name>`` (through importlib.resources)."""
    return (resources.files("setsel") / "data" / "demo" / name).read_text(encoding="utf-8")


def _rows(name: str, required: dict[str, type], optional: dict[str, type]) -> list[dict[str, Any]]:
    """Parse and type-check one JSONL file; errors name ``demo/<file>:<line>``."""
    rows = []
    for lineno, line in enumerate(_read_text(name).splitlines(), 1):
        if not line.strip():
            continue
        where = f"demo/{name}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(row, dict):
            raise SchemaError(f"{where}: expected a JSON object, got {type(row).__name__}")
        missing = sorted(set(required) - set(row))
        unknown = sorted(set(row) - set(required) - set(optional))
        if missing or unknown:
            raise SchemaError(f"{where}: missing field(s) {missing}, unknown field(s) {unknown}")
        for key, tp in {**required, **optional}.items():
            if key in row and not isinstance(row[key], tp):
                raise SchemaError(f"{where}: field {key!r} must be a {tp.__name__}, got {type(row[key]).__name__}")
            if tp is list and key in row and not all(isinstance(v, str) and v for v in row[key]):
                raise SchemaError(f"{where}: field {key!r} must hold non-empty strings")
        rows.append(row)
    if not rows:
        raise SchemaError(f"demo/{name}: no records")
    return rows


def _load() -> tuple[dict[str, Passage], list[dict[str, Any]]]:
    """Read both files and check every cross-reference; returns (passages by id, question rows)."""
    corpus: dict[str, Passage] = {}
    for row in _rows(PASSAGES_FILE, _PASSAGE_FIELDS, {}):
        if row["id"] in corpus:
            raise SchemaError(f"demo/{PASSAGES_FILE}: duplicate passage id {row['id']!r}")
        corpus[row["id"]] = Passage(id=row["id"], title=row["title"], text=row["text"])
    questions = _rows(QUESTIONS_FILE, _QUESTION_FIELDS, _QUESTION_OPTIONAL)
    seen: set[str] = set()
    for row in questions:
        qid = row["id"]
        if qid in seen:
            raise SchemaError(f"demo/{QUESTIONS_FILE}: duplicate question id {qid!r}")
        seen.add(qid)
        unknown = [i for i in row["candidate_ids"] + row["gold_passage_ids"] if i not in corpus]
        if unknown:
            raise SchemaError(f"demo question {qid}: unknown passage id(s) {sorted(set(unknown))}")
        if len(set(row["candidate_ids"])) != len(row["candidate_ids"]):
            raise SchemaError(f"demo question {qid}: repeated candidate ids")
        outside = [g for g in row["gold_passage_ids"] if g not in row["candidate_ids"]]
        if outside:
            raise SchemaError(f"demo question {qid}: gold passage(s) {outside} not in its candidate_ids")
    return corpus, questions


def _copy(p: Passage) -> Passage:
    """A fresh Passage (pools never share mutable records)."""
    return Passage(id=p.id, title=p.title, text=p.text)


def _query(row: dict[str, Any]) -> Query:
    return Query(id=row["id"], question=row["question"], answers=list(row["answers"]),
                 gold_passage_ids=list(row["gold_passage_ids"]), evidence=list(row.get("evidence", [])),
                 qtype=row["qtype"])


def demo_corpus() -> list[Passage]:
    """All demo passages, in file order.

    Returns: a new list of :class:`Passage` (``id``, ``title``, ``text``) on every call.
    Example: ``demo_corpus()[0].id == "tessaly-bridge"``.
    """
    corpus, _ = _load()
    return list(corpus.values())


def demo_queries() -> list[Query]:
    """All demo questions, in file order, with ``answers``, ``gold_passage_ids``, ``evidence``, ``qtype``.

    Example: ``demo_queries()[0].answers == ["1887"]``.
    """
    _, questions = _load()
    return [_query(row) for row in questions]


def load_demo(shuffle_seed: int | None = None) -> list[Candidates]:
    """One :class:`Candidates` per demo question: its pool of passages (retriever ``"demo"``).

    Args:
        shuffle_seed: ``None`` keeps each pool in file order; an int permutes each pool
            deterministically (the permutation depends on the seed and the question id).
    Returns:
        ``list[Candidates]`` in question order; gold ids are passage ids of the pool.
    Raises:
        SchemaError: a file is malformed or references an unknown passage id.

    Example:
        >>> [p.id for p in load_demo()[0].passages][:2]
        ['tessaly-bridge-guide', 'reddick-works-today']
    """
    if shuffle_seed is not None and (isinstance(shuffle_seed, bool) or not isinstance(shuffle_seed, int)):
        raise TypeError(f"shuffle_seed must be an int or None, got {shuffle_seed!r}")
    corpus, questions = _load()
    out = []
    for row in questions:
        ids = list(row["candidate_ids"])
        if shuffle_seed is not None:
            random.Random(f"{shuffle_seed}:{row['id']}").shuffle(ids)
        out.append(Candidates(query=_query(row), passages=[_copy(corpus[i]) for i in ids],
                               retriever="demo"))
    return out
