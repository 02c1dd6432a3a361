"""From sampled sets to training examples (OptiSet §3.2.2 and Appendix C).

:func:`build_examples` takes every :class:`~setsel.types.SampledSet` of a dataset and the
questions' candidate pools and:

1. fits α, β once over all ΔH (:func:`~setsel.synthesis.preference.fit_alpha_beta`) and maps
   each ΔH to P (Eq. 8);
2. per question: de-duplicates identical sets, drops the question when every set is negative
   or the P spread is below ``min_spread``, keeps ``m`` sets (the best, then the most distinct);
3. writes ``copies`` :class:`~setsel.training.data.TrainExample` per kept question, each with
   the candidate order permuted (seeded per question and copy) and set ids remapped.

Returns the examples and a :class:`BuildReport` (α, β, counts, reasons for drops).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from setsel.synthesis.preference import fit_alpha_beta, preference
from setsel.synthesis.sets import choose_sets, dedupe_sets, keep_question, make_permutation, permute_example
from setsel.types import Candidates, SampledSet


@dataclass
class BuildReport:
    alpha: float
    beta: float
    ks_pos: float | None
    ks_neg: float | None
    n_questions: int
    n_kept: int
    n_sets: int
    share_positive: float
    avg_set_size: float
    dropped: dict[str, int] = field(default_factory=dict)
    P_values: list[float] = field(default_factory=list)


def build_examples(
    sampled: list[SampledSet],
    candidates: list[Candidates],
    m: int = 5,
    copies: int = 3,
    min_spread: float = 0.1,
    seed: int = 0,
    alpha_beta: tuple[float, float] | None = None,
) -> tuple[list[Any], BuildReport]:
    from setsel.types import TrainExample

    finite = [s for s in sampled if math.isfinite(s.dH)]
    if alpha_beta is None:
        fit = fit_alpha_beta([s.dH for s in finite])
        alpha, beta, ks_pos, ks_neg = fit.alpha, fit.beta, fit.ks_pos, fit.ks_neg
    else:
        (alpha, beta), ks_pos, ks_neg = alpha_beta, None, None
    for s in finite:
        s.P = preference(s.dH, alpha, beta)
    by_q: dict[str, list[SampledSet]] = defaultdict(list)
    for s in finite:
        by_q[s.query_id].append(s)
    pools = {c.query.id: c for c in candidates}
    examples, dropped, kept = [], Counter(), 0
    order = {qid: i for i, qid in enumerate(pools)}
    for qid in sorted(by_q, key=lambda q: order.get(q, -1)):
        if qid not in pools:
            dropped["no candidate pool"] += 1
            continue
        cand = pools[qid]
        pos = {p.id: i + 1 for i, p in enumerate(cand.passages)}
        sets = [[pos[i] for i in s.refined_ids if i in pos] for s in by_q[qid]]
        pairs = [(st, s.P) for st, s in zip(sets, by_q[qid]) if st]
        if not pairs:
            dropped["no valid set"] += 1
            continue
        uniq, P = dedupe_sets([p[0] for p in pairs], [p[1] for p in pairs])
        ok, why = keep_question(P, min_spread)
        if not ok:
            dropped["low P spread" if why.startswith("P spread") else why] += 1
            continue
        kept += 1
        chosen = choose_sets(uniq, P, m)
        chosen_sets, chosen_P = [uniq[i] for i in chosen], [P[i] for i in chosen]
        for copy in range(copies):
            perm = make_permutation(len(cand.passages), seed=hash_seed(seed, qid, copy))
            passages, psets = permute_example(cand.passages, chosen_sets, perm)
            examples.append(TrainExample(
                query_id=f"{qid}@{copy}", question=cand.query.question, passages=passages, sets=psets,
                P=chosen_P, answers=list(cand.query.answers), permutation=perm,
                metadata={"source_query_id": qid, "copy": copy},
            ))
    P_all = [s.P for s in finite]
    sizes = [len(s.refined_ids) for s in finite]
    report = BuildReport(
        alpha=alpha, beta=beta, ks_pos=ks_pos, ks_neg=ks_neg, n_questions=len(by_q), n_kept=kept,
        n_sets=len(finite), share_positive=(sum(p > 0 for p in P_all) / len(P_all)) if P_all else 0.0,
        avg_set_size=(sum(sizes) / len(sizes)) if sizes else 0.0, dropped=dict(dropped), P_values=P_all,
    )
    return examples, report


def hash_seed(seed: int, qid: str, copy: int) -> int:
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{qid}:{copy}".encode()).digest()[:4], "little")
