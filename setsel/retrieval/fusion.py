"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) — pure, no imports.

``RRF(d) = Σ_r 1 / (k + rank_r(d))`` over the rankings ``r`` that contain ``d`` (ranks
from 1); ``k = 60`` as in the paper. Ties keep the order of first appearance (ranking 0
before ranking 1, better ranks first).

Example:
    >>> rrf([[7, 3], [3, 9]], k=60)        # 3: 1/62 + 1/61; 7: 1/61; 9: 1/62
    [(3, 0.03252247488101534), (7, 0.01639344262295082), (9, 0.016129032258064516)]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def rrf(rankings: Sequence[Sequence[Hashable]], k: int = 60, limit: int | None = None) -> list[tuple[Hashable, float]]:
    """Fuse ``rankings`` (best first) into one ``[(item, score)]`` list, best first."""
    if k < 0:
        raise ValueError(f"k must be ≥ 0, got {k}")
    scores: dict[Hashable, float] = {}
    first: dict[Hashable, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            first.setdefault(item, len(first))
    fused = sorted(scores.items(), key=lambda kv: (-kv[1], first[kv[0]]))
    return fused if limit is None else fused[:limit]
