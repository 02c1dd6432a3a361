"""How ``llm_head`` training and tuning show a pool: a seeded permutation, and the second-hop read. Pure.

Every training example and every held-out pool is shown in a seeded random order
(:func:`permuted`), so the model can only learn from passages, not positions; a share of the
training pools is read with one gold passage already known (:func:`pinned`, the layout's
``Known:`` line).
"""

from __future__ import annotations

import random
from typing import Any


def permuted(candidates: Any, key: str) -> tuple[list[tuple[str, str]], list[float]]:
    """The pool in the seeded random order ``random.Random(key)``: ``(title, text)`` pairs and
    labels (1.0 gold, 0.0 not), aligned. Pure.

    >>> from setsel.types import Candidates, Passage, Query
    >>> c = Candidates(Query("q", "Q?", gold_passage_ids=["b"]), [Passage("a", "", "x"), Passage("b", "", "y")])
    >>> sorted(zip(*permuted(c, "k")))
    [(('', 'x'), 0.0), (('', 'y'), 1.0)]
    """
    order = list(range(len(candidates.passages)))
    random.Random(key).shuffle(order)
    gold = set(candidates.query.gold_passage_ids)
    shown = [candidates.passages[i] for i in order]
    return [(p.title or "", p.text or "") for p in shown], [1.0 if p.id in gold else 0.0 for p in shown]


def pinned(shown: list[tuple[str, str]], labels: list[float], key: str, fraction: float
           ) -> tuple[tuple[str, str] | None, list[tuple[str, str]], list[float]]:
    """The second-hop training read of one permuted pool: with probability ``fraction``
    (``random.Random(key)``) and when the pool has ≥ 2 gold passages, one of them (seeded) becomes
    the ``known`` passage and leaves the pool; the rest stay labelled. Returns ``(known, shown, labels)``
    (``known`` ``None``: the pool unchanged). Pure.

    >>> pinned([("a", ""), ("b", ""), ("c", "")], [1.0, 0.0, 1.0], "k", 1.0)[0] in {("a", ""), ("c", "")}
    True
    >>> known, shown, labels = pinned([("a", ""), ("b", ""), ("c", "")], [1.0, 0.0, 1.0], "k", 1.0)
    >>> len(shown), sum(labels), known in shown
    (2, 1.0, False)
    >>> pinned([("a", ""), ("b", "")], [1.0, 0.0], "k", 1.0)[0] is None     # one gold: nothing to pin
    True
    """
    gold = [i for i, y in enumerate(labels) if y]
    rng = random.Random(key)
    if fraction <= 0 or len(gold) < 2 or rng.random() >= fraction:
        return None, shown, labels
    j = rng.choice(gold)
    return shown[j], shown[:j] + shown[j + 1:], labels[:j] + labels[j + 1:]
