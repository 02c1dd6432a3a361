"""How many passages to keep from per-passage scores (the expected-F1 rule), and the lexical fusion
of a scorer's logits with BM25 over the pool. Pure, stdlib only.

A pointwise scorer (``llm_head``, ``cross_encoder``) ranks the pool; the set is a prefix of that
ranking. :func:`setsel.selection.cross_encoder.select_by_threshold` cuts it at a fixed score.
:func:`select_expected_f1` instead reads the scores as probabilities of relevance,
``p_i = σ(s_i / T)``, and keeps the prefix of length ``k`` with the largest expected set F1::

    E[F1(k)] ≈ 2 · Σ_{i ≤ k} p_(i) / (k + Σ_i p_i)

(the ratio of expectations for F1 = 2·TP / (|S| + |G|): ``E[TP] = Σ_{i≤k} p_(i)`` over the
``k`` best, ``E[|G|] = Σ p_i`` over the pool). So the set grows while the next passage's
probability beats the current expected F1 / 2 — a question whose pool holds three likely
passages gets three, one with a single sure passage gets one, with no per-dataset threshold:
what a multi-hop set needs when the number of hops varies (MuSiQue: 2–4). ``T`` (the
calibration temperature) and a floor are tuned on held-out training questions
(:func:`tune_expected_f1`), like the threshold rule.

Lexical fusion (:func:`fuse_lexical`): a learned scorer trained on ~1,000 questions misses
exact-match evidence that BM25 over the same pool catches (a rare name in the question and in
one passage), and BM25 alone misses the bridge passage. Adding ``w · z(BM25)`` — the pool's BM25
scores standardised within the pool, so ``w`` means the same for pools of 10 or 20 — to the
logits lets each cover the other; ``w`` is tuned on held-out training questions with the cut
(``setsel train-head``), never on evaluation data.

Example:
    >>> select_expected_f1([3.0, -2.0, 2.5, -1.0])       # two sure passages, one doubtful
    [0, 2]
    >>> select_expected_f1([3.0, 2.8, 2.6, -3.0])        # three sure ones
    [0, 1, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def standardise(values: Sequence[float]) -> list[float]:
    """``(v − mean) / std`` within one list (population std); all zeros when the values are equal.

    >>> standardise([1.0, 3.0]), standardise([2.0, 2.0, 2.0])
    ([-1.0, 1.0], [0.0, 0.0, 0.0])
    """
    if not values:
        return []
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if std < 1e-12:
        return [0.0] * len(values)
    return [(v - mean) / std for v in values]


def fuse_lexical(scores: Sequence[float], lexical: Sequence[float], weight: float) -> list[float]:
    """``scores + weight · standardise(lexical)``, element-wise (one value per passage of a pool).

    >>> [round(x, 4) for x in fuse_lexical([0.5, -1.0, 2.0], [0.0, 6.0, 3.0], 1.0)]  # z: -1.2247, 1.2247, 0
    [-0.7247, 0.2247, 2.0]
    >>> fuse_lexical([0.5, -1.0], [7.0, 1.0], 0.0)
    [0.5, -1.0]
    """
    if len(scores) != len(lexical):
        raise ValueError(f"one lexical score per passage: {len(scores)} scores, {len(lexical)} lexical")
    if not weight:
        return [float(s) for s in scores]
    return [float(s) + weight * z for s, z in zip(scores, standardise(lexical))]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def expected_f1_size(probs_desc: Sequence[float], floor: int = 1, cap: int | None = None) -> int:
    """The prefix length ``k`` (``floor ≤ k ≤ cap``) maximising ``2·Σ_{i≤k} p_i / (k + Σ p)``;
    ``probs_desc`` sorted in decreasing order. Ties go to the smaller ``k``.

    >>> expected_f1_size([0.9, 0.8, 0.1]), expected_f1_size([0.9, 0.8, 0.1], floor=3)
    (2, 3)
    """
    n = len(probs_desc)
    if n == 0:
        return 0
    hi = n if cap is None else max(1, min(cap, n))
    lo = max(1, min(floor, hi))
    total = math.fsum(probs_desc)
    best_k, best, prefix = lo, -1.0, math.fsum(probs_desc[: lo - 1])
    for k in range(lo, hi + 1):
        prefix += probs_desc[k - 1]
        value = 2.0 * prefix / (k + total)
        if value > best + 1e-12:
            best_k, best = k, value
    return best_k


def select_expected_f1(scores: Sequence[float], temperature: float = 1.0, cap: int | None = None,
                       floor: int = 1) -> list[int]:
    """Indices of the expected-F1-best prefix of ``scores`` (logits), by decreasing score.

    Args:
        scores: one logit per passage.
        temperature: calibration ``T`` in ``p = σ(s / T)`` (> 0).
        cap / floor: at most / at least this many passages.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    probs = [_sigmoid(scores[i] / temperature) for i in order]
    return order[: expected_f1_size(probs, floor, cap)]


def tune_expected_f1(scores: list[list[float]], gold: list[set[int]], max_passages: int | None = None,
                     temperatures: Sequence[float] = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
                     floors: Sequence[int] = (1, 2)) -> tuple[float, int, float]:
    """The ``(temperature, floor, mean set F1)`` of :func:`select_expected_f1` that maximise mean set
    F1 over held-out questions (``scores[q]`` logits, ``gold[q]`` gold indices); among equal F1 the
    first in ``temperatures`` × ``floors`` order wins.

    >>> tune_expected_f1([[3.0, -2.0, 2.5], [3.0, 2.0, -3.0]], [{0, 2}, {0}], temperatures=(1.0,), floors=(1, 2))
    (1.0, 1, 0.8333333333333333)
    """
    if not scores or len(scores) != len(gold):
        raise ValueError(f"need one gold set per question, got {len(scores)} score lists, {len(gold)} gold sets")
    best: tuple[float, int, float] | None = None
    for t in temperatures:
        for floor in floors:
            if max_passages is not None and floor > max_passages:
                continue
            total = 0.0
            for s, g in zip(scores, gold):
                chosen = set(select_expected_f1(s, t, max_passages, floor))
                tp = len(chosen & g)
                total += 2.0 * tp / (len(chosen) + len(g)) if chosen or g else 0.0
            f1 = total / len(scores)
            if best is None or f1 > best[2] + 1e-12:
                best = (float(t), int(floor), f1)
    if best is None:
        raise ValueError(f"no floor in {tuple(floors)} is ≤ max_passages={max_passages}")
    return best


def second_hop_scores(first: Sequence[float], second: Sequence[float], top: int, mix: float) -> list[float]:
    """Combine a pool's first read with its second-hop read (the pool read again with passage
    ``top`` shown as already chosen; Beam Retrieval's hop-conditioned scoring).

    Args:
        first: the first read's (fused) score of every passage of the pool.
        second: the second read's score of every *other* passage, in pool order without ``top``.
        top: the passage shown as known (the first read's best).
        mix: weight of the second read: each other passage scores ``(1 − mix)·first + mix·second``.

    Returns:
        One score per passage; ``top`` keeps its first score, raised where needed to stay the best
        (by 1.0 over the next), so every cut keeps it.

    >>> second_hop_scores([2.0, 0.5, -1.0], [-2.0, 3.0], top=0, mix=1.0)    # the re-read promotes 2
    [4.0, -2.0, 3.0]
    >>> second_hop_scores([2.0, 0.5, -1.0], [-2.0, 3.0], top=0, mix=0.5)
    [2.0, -0.75, 1.0]
    """
    if len(second) != len(first) - 1:
        raise ValueError(f"the second read scores every passage but the known one: {len(first)} vs {len(second)}")
    others = [(1.0 - mix) * f + mix * s for f, s in zip(first[:top] + first[top + 1:], second)]
    best_other = max(others, default=float("-inf"))
    head = float(first[top]) if first[top] > best_other else best_other + 1.0
    return [float(x) for x in others[:top]] + [head] + [float(x) for x in others[top:]]
