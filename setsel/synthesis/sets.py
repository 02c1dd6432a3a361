"""Post-processing of sampled sets into training data (OptiSet §3.2, Appendix C). Pure.

Per question, after K Expand-then-Refine samples each scored with a preference P:

1. :func:`keep_question` — drop questions whose sets are all negative (P < 0 for every
   set) or whose P spread (max − min) is below a threshold (no signal to rank);
2. :func:`dedupe_sets` — identical sets (same ids, any order) collapse to one, keeping the
   highest P;
3. :func:`choose_sets` — keep m sets: the best one, then greedily the set most distinct
   (largest minimum Jaccard distance) from those already kept, ties broken by higher P;
4. :func:`permute_example` — write copies with the candidate order permuted and the set
   ids remapped (OptiSet shuffles each example 3 times to remove position bias);
   :func:`unpermute_ids` inverts the mapping.

Ids here are 1-based positions in the candidate list, as the selector prompts use them.

Example:
    >>> dedupe_sets([[2, 1], [1, 2], [3]], [0.6, 0.9, -0.7])
    ([[1, 2], [3]], [0.9, -0.7])
    >>> perm = [2, 0, 1]   # new position i shows old candidate perm[i] (0-based)
    >>> permute_ids([1, 3], perm)
    [2, 1]
    >>> unpermute_ids([2, 1], perm)
    [1, 3]
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def keep_question(P: Sequence[float], min_spread: float = 0.1) -> tuple[bool, str]:
    """Whether a question's sampled sets carry a training signal; the reason when not."""
    if not P:
        return False, "no sets"
    if max(P) < 0:
        return False, "all sets negative"
    if len(P) > 1 and max(P) - min(P) < min_spread:
        return False, f"P spread {max(P) - min(P):.3f} < {min_spread}"
    return True, ""


def dedupe_sets(sets: Sequence[Sequence[int]], P: Sequence[float]) -> tuple[list[list[int]], list[float]]:
    """Collapse identical sets (order-insensitive), keeping the best P; first-seen order kept."""
    if len(sets) != len(P):
        raise ValueError(f"{len(sets)} sets but {len(P)} scores")
    best: dict[tuple[int, ...], int] = {}
    out_sets: list[list[int]] = []
    out_p: list[float] = []
    for s, p in zip(sets, P):
        key = tuple(sorted(set(s)))
        if key in best:
            i = best[key]
            out_p[i] = max(out_p[i], p)
            continue
        best[key] = len(out_sets)
        out_sets.append(sorted(set(s)))
        out_p.append(p)
    return out_sets, out_p


def jaccard_distance(a: Sequence[int], b: Sequence[int]) -> float:
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 0.0
    return 1.0 - len(sa & sb) / len(sa | sb)


def choose_sets(sets: Sequence[Sequence[int]], P: Sequence[float], m: int = 5) -> list[int]:
    """Indices of the m sets to keep: the best P first, then the most distinct (max-min Jaccard)."""
    if m < 1:
        raise ValueError("m must be ≥ 1")
    if not sets:
        return []
    order = sorted(range(len(sets)), key=lambda i: (-P[i], i))
    chosen = [order[0]]
    rest = order[1:]
    while rest and len(chosen) < m:
        pick = max(rest, key=lambda i: (min(jaccard_distance(sets[i], sets[j]) for j in chosen), P[i], -i))
        chosen.append(pick)
        rest.remove(pick)
    return chosen


def make_permutation(n: int, seed: int) -> list[int]:
    """A seeded permutation: new position i shows old candidate ``perm[i]`` (0-based)."""
    perm = list(range(n))
    random.Random(seed).shuffle(perm)
    return perm


def permute_ids(ids: Sequence[int], perm: Sequence[int]) -> list[int]:
    """Map 1-based ids in the original order to 1-based ids in the permuted order."""
    new_pos = {old: new for new, old in enumerate(perm)}
    return [new_pos[i - 1] + 1 for i in ids]


def unpermute_ids(ids: Sequence[int], perm: Sequence[int]) -> list[int]:
    """Inverse of :func:`permute_ids`."""
    return [perm[i - 1] + 1 for i in ids]


def permute_example(
    passages: Sequence[object], sets: Sequence[Sequence[int]], perm: Sequence[int]
) -> tuple[list[object], list[list[int]]]:
    """Reorder ``passages`` by ``perm`` and remap every set's ids; sets stay sorted."""
    if sorted(perm) != list(range(len(passages))):
        raise ValueError("perm must be a permutation of range(len(passages))")
    return [passages[j] for j in perm], [sorted(permute_ids(s, perm)) for s in sets]
