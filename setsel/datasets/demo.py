"""The embedded demo set (``setsel/data/demo``): 36 passages, 12 multi-hop questions.

Written for setsel (not copied from a benchmark); see ``setsel/data/demo/README.md``.
Standard library only; read through importlib.resources so it works from a wheel.

Example:
    >>> cands = load_demo()
    >>> len(cands), len(cands[0].passages), cands[0].query.gold_passage_ids
    (12, 10, ['tessaly-bridge', 'reddick-foundry'])
"""

from __future__ import annotations

import json
import random
from importlib import resources

from setsel.types import Candidates, Passage, Query, SchemaError


def _rows(name: str) -> list[dict]:
    path = resources.files("setsel") / "data" / "demo" / name
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise SchemaError(f"demo/{name}:{lineno}: invalid JSON: {exc.msg}") from None
    return rows


def demo_corpus() -> list[Passage]:
    """All demo passages, in file order."""
    return [Passage(id=r["id"], title=r["title"], text=r["text"]) for r in _rows("passages.jsonl")]


def demo_queries() -> list[Query]:
    """All demo questions with answers and gold passage ids."""
    return [
        Query(id=r["id"], question=r["question"], answers=r["answers"], gold_passage_ids=r["gold_passage_ids"],
              qtype=r.get("qtype"))
        for r in _rows("questions.jsonl")
    ]


def load_demo(shuffle_seed: int | None = None) -> list[Candidates]:
    """One :class:`Candidates` per question: its 10-passage pool in file order.

    ``shuffle_seed`` permutes each pool deterministically (per question id).
    Raises :class:`SchemaError` if a question references an unknown passage.
    """
    corpus = {p.id: p for p in demo_corpus()}
    out = []
    for r in _rows("questions.jsonl"):
        missing = [i for i in r["candidate_ids"] + r["gold_passage_ids"] if i not in corpus]
        if missing:
            raise SchemaError(f"demo question {r['id']}: unknown passage id(s) {missing}")
        ids = list(r["candidate_ids"])
        if shuffle_seed is not None:
            random.Random(f"{shuffle_seed}:{r['id']}").shuffle(ids)
        query = Query(id=r["id"], question=r["question"], answers=r["answers"],
                      gold_passage_ids=r["gold_passage_ids"], qtype=r.get("qtype"))
        out.append(Candidates(query=query, passages=[corpus[i] for i in ids], retriever="demo"))
    return out
