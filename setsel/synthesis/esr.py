"""K-sample Expand-then-Refine with the gold answer, and its utility (OptiSet Algorithm 1).

For a batch of training questions (``Candidates`` with answers), :func:`sample_sets`:

1. **Expand** (Table 5, gold answers in the prompt, reply starts ``### Queries:``): one call,
   ``n=K`` samples per question at temperature ``T``;
2. **Select** (Table 6, with answers): for every sample k and every query
   ``q' ∈ {q} ∪ Qs^(k)`` one prompt (the others listed as sub-queries), all in one call,
   constrained to the selection grammar so every sample is a valid set;
3. union per (question, k) (OptiSet Eq. 3);
4. **Refine** (Table 7, with answers, the question only): one constrained call over all unions;
5. **Utility** (Eqs. 5–7): ``H_0`` (no passages) and ``H_k`` (the refined set) of the gold
   answer under the generator, one batched ``score`` call; ``dH_k = H_k − H_0``.

Every stage is one engine call for the whole batch. Sampling seeds come from
(``seed``, question id, stage), so a question's samples are reproducible whatever else is
in the batch (the hf engine seeds per prompt). Output: one
:class:`~setsel.types.SampledSet` per (question, k) with ``P`` left at ``nan`` — α, β are
fitted over the whole dataset afterwards (:mod:`setsel.synthesis.build`).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from setsel.prompts import parse_queries, parse_selection, render
from setsel.synthesis.utility import answer_entropy
from setsel.types import Candidates, GenerationParams, SampledSet, SelectionConstraint


@dataclass
class ESRConfig:
    """Sampling settings of Algorithm 1 (defaults: OptiSet's K=10, T=1.0)."""

    k: int = 10
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    max_words: int = 100
    max_subqueries: int = 4
    expand_tokens: int = 96
    select_tokens: int = 48
    max_passages: int | None = None


def _seed(seed: int, *parts: Any) -> int:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def propose_sets(batch: list[Candidates], selector: Any, cfg: ESRConfig) -> list[SampledSet]:
    """Algorithm 1 lines 4–6 (Expand, Select, Refine) for every question in ``batch``.

    Args:
        batch: questions with gold ``answers`` and their candidate pools.
        selector: engine that expands, selects and refines.
        cfg: :class:`ESRConfig`.
    Returns:
        ``len(batch) * cfg.k`` sampled sets with ``H``/``dH``/``P`` still ``nan``
        (questions without answers or passages are skipped).
    """
    if cfg.k > 1 and cfg.temperature <= 0:
        raise ValueError("K > 1 samples need temperature > 0")
    batch = [c for c in batch if c.query.answers and c.passages]
    if not batch:
        return []
    K = cfg.k
    sampling = dict(temperature=cfg.temperature, top_p=cfg.top_p)

    # 1. Expand: K samples per question in one call.
    expand_prompts = [render("optiset_expand", question=c.query.question, answers=c.query.answers) for c in batch]
    expansions = selector.generate(
        expand_prompts,
        GenerationParams(n=K, max_tokens=cfg.expand_tokens, prefix="### Queries:",
                         seed=_seed(cfg.seed, "expand"), **sampling),
    )
    subqueries = [[parse_queries(s.text)[: cfg.max_subqueries] for s in samples] for samples in expansions]

    # 2. Select for q and each sub-query, every (question, k), one call.
    prompts, owners = [], []
    for qi, c in enumerate(batch):
        for k in range(K):
            queries = [c.query.question] + subqueries[qi][k]
            for j, q_prime in enumerate(queries):
                others = [x for x in queries if x != q_prime] or [c.query.question]
                prompts.append(render("optiset_select", question=q_prime, passages=c.passages, queries=others,
                                      answers=c.query.answers, max_words=cfg.max_words,
                                      max_passages=cfg.max_passages))
                owners.append((qi, k))
    n_by_q = {qi: len(c.passages) for qi, c in enumerate(batch)}
    selected = _constrained(selector, prompts, [n_by_q[qi] for qi, _ in owners], cfg, "select")
    unions: dict[tuple[int, int], list[int]] = {}
    for (qi, k), ids in zip(owners, selected):
        acc = unions.setdefault((qi, k), [])
        acc.extend(i for i in ids if i not in acc)

    # 4. Refine each union with the question only, one call.
    keys = sorted(unions)
    refine_prompts, refine_sizes = [], []
    for qi, k in keys:
        subset = [batch[qi].passages[i - 1] for i in sorted(unions[(qi, k)])]
        refine_prompts.append(render("optiset_refine", question=batch[qi].query.question, passages=subset,
                                     answers=batch[qi].query.answers, max_words=cfg.max_words))
        refine_sizes.append(len(subset))
    refined_local = _constrained(selector, refine_prompts, refine_sizes, cfg, "refine")
    refined: dict[tuple[int, int], list[int]] = {}
    for (qi, k), local in zip(keys, refined_local):
        union_sorted = sorted(unions[(qi, k)])
        refined[(qi, k)] = [union_sorted[i - 1] for i in local] or union_sorted

    out = []
    for qi, k in keys:
        c = batch[qi]
        out.append(SampledSet(
            query_id=c.query.id, sample=k, subqueries=subqueries[qi][k],
            raw_ids=[c.passages[i - 1].id for i in sorted(unions[(qi, k)])],
            refined_ids=[c.passages[i - 1].id for i in refined[(qi, k)]],
            H=float("nan"), dH=float("nan"), P=float("nan"),
        ))
    return out


def score_sets(batch: list[Candidates], sets: list[SampledSet], generator: Any, max_words: int = 100) -> list[SampledSet]:
    """Fill ``H`` and ``dH`` of ``sets`` (Eqs. 5–7): one batched ``score`` call with H_0 per question."""
    pools = {c.query.id: c for c in batch if c.query.answers}
    sets = [s for s in sets if s.query_id in pools]
    qids = sorted({s.query_id for s in sets}, key=[c.query.id for c in batch].index)
    questions, answers, contexts = [], [], []
    for qid in qids:  # H0: the answer prompt with no passages
        questions.append(pools[qid].query.question)
        answers.append(pools[qid].query.answers[0])
        contexts.append([])
    for s in sets:
        by_id = {p.id: p for p in pools[s.query_id].passages}
        questions.append(pools[s.query_id].query.question)
        answers.append(pools[s.query_id].query.answers[0])
        contexts.append([by_id[i] for i in s.refined_ids])
    H = answer_entropy(generator, questions, answers, contexts, max_words=max_words)
    H0 = dict(zip(qids, H[: len(qids)]))
    for s, h in zip(sets, H[len(qids):]):
        s.H = float(h)
        s.dH = float(h - H0[s.query_id]) if math.isfinite(h) and math.isfinite(H0[s.query_id]) else float("nan")
    return sets


def sample_sets(batch: list[Candidates], selector: Any, generator: Any, cfg: ESRConfig) -> list[SampledSet]:
    """Algorithm 1 lines 1–9: :func:`propose_sets` then :func:`score_sets`."""
    return score_sets(batch, propose_sets(batch, selector, cfg), generator, cfg.max_words)


def _constrained(engine: Any, prompts: list, sizes: list[int], cfg: ESRConfig, stage: str) -> list[list[int]]:
    """One sampled, selection-constrained generation per prompt; parsed 1-based ids.

    Prompts are grouped by pool size (one grammar per group); seeds derive from the stage.
    """
    out: list[list[int]] = [[] for _ in prompts]
    by_size: dict[int, list[int]] = {}
    for i, n in enumerate(sizes):
        by_size.setdefault(n, []).append(i)
    for n, idx in sorted(by_size.items()):
        params = GenerationParams(
            n=1, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.select_tokens,
            seed=_seed(cfg.seed, stage, n), constraint=SelectionConstraint(n, cfg.max_passages),
        )
        results = engine.generate([prompts[i] for i in idx], params)
        for i, [completion] in zip(idx, results):
            out[i] = parse_selection(completion.text, n).ids
    return out
