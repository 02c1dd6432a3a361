"""K-sample Expand-then-Refine with the gold answer, and its utility (OptiSet Algorithm 1).

For a batch of training questions (``Candidates`` with answers), :func:`sample_sets`:

1. **Expand** (Table 5, gold answers in the prompt, reply starts with the template's
   ``assistant_prefix``, ``### Queries:``): one call,
   ``n=K`` samples per question at temperature ``T``;
2. **Select** (Table 6, with answers): for every sample k and every query
   ``q' ∈ {q} ∪ Qs^(k)`` one prompt — the served OptiSet's own stage
   (:func:`setsel.selection.optiset.select_jobs` and :func:`setsel.selection.stages.run_stage`:
   the same prompts, chunking for pools larger than the context, the selection grammar)
   decoded with this module's sampling policy (temperature ``T``, a seed per stage);
3. union per (question, k) (OptiSet Eq. 2);
4. **Refine** (Table 7, with answers, the question only): the served refine stage
   (:func:`setsel.selection.optiset.refine_job`, Eq. 3), sampled; a failed refinement keeps the union;
5. **Utility** (Eqs. 5–7, :mod:`setsel.synthesis.utility`): ``H_0`` (no passages) and ``H_k``
   (the refined set) of the gold answer under the generator, one batched ``score`` call;
   ``dH_k = H_k − H_0``.

So synthesis samples exactly the stages that are served; this module keeps only the K-sample
bookkeeping and the scoring. Each stage is one engine call per phase for the whole batch
(more only for pools that need chunks). Sampling seeds come from (``seed``, stage) and the
engines draw each row from (seed, prompt, sample index), so a question's samples are
reproducible whatever else is in the batch. Output: one
:class:`~setsel.types.SampledSet` per (question, k) with ``P`` left at ``nan`` — α, β are
fitted over the whole dataset afterwards (:mod:`setsel.synthesis.build`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from setsel.prompts import get_template, parse_queries, render
from setsel.selection.decoding import DecodeConfig, Sampling
from setsel.selection.optiset import refine_job, select_jobs
from setsel.selection.stages import StageLimits, run_stage
from setsel.synthesis.utility import answer_entropy, entropy_change
from setsel.types import Candidates, GenerationParams, SampledSet


@dataclass
class ESRConfig:
    """Sampling settings of Algorithm 1 (defaults: OptiSet's K=10, T=1.0)."""

    k: int = 10
    """Samples per question (Algorithm 1's K)."""
    temperature: float = 1.0
    """Sampling temperature of every stage (> 0 when K > 1)."""
    top_p: float = 1.0
    """Nucleus sampling mass."""
    seed: int = 0
    """Seed of the stages' sampling (reproducible samples)."""
    max_words: int = 100
    """Words per passage in the prompts (chunking may lower it for a large pool)."""
    max_subqueries: int = 4
    """Sub-queries kept per expansion."""
    expand_tokens: int = 96
    """Generation budget of an expansion."""
    select_tokens: int = 48
    """Generation budget of a selection line (select and refine)."""
    max_passages: int | None = None
    """At most this many passages per selection (the grammar's bound); ``None`` = any."""


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
        GenerationParams(n=K, max_tokens=cfg.expand_tokens, prefix=get_template("optiset_expand").assistant_prefix,
                         seed=_seed(cfg.seed, "expand"), **sampling),
    )
    subqueries = [[parse_queries(s.text)[: cfg.max_subqueries] for s in samples] for samples in expansions]

    # 2. Select for q and each sub-query, every (question, k): the served selector's stage
    #    (select_jobs + run_stage: chunking for large pools, the selection grammar) with the
    #    gold answers in every prompt and this sampling policy.
    jobs, owners = [], []
    for qi, c in enumerate(batch):
        for k in range(K):
            for job in select_jobs(c.query.question, subqueries[qi][k], c.passages, answers=c.query.answers):
                jobs.append(job)
                owners.append((qi, k))
    limits = StageLimits(max_words=cfg.max_words, min_words=min(StageLimits.min_words, cfg.max_words))
    selected = run_stage(selector, jobs, _decode(cfg, "select"), limits, reselect=False)
    unions: dict[tuple[int, int], list[int]] = {(qi, k): [] for qi in range(len(batch)) for k in range(K)}
    for key, r in zip(owners, selected):
        unions[key].extend(p for p in r.positions if p not in unions[key])   # OptiSet Eq. 2: S_raw = ∪ S_q'
    unions = {key: sorted(u) for key, u in unions.items() if u}

    # 3. Refine each union with the question only (Eq. 3), one stage; a failed refinement keeps the union.
    keys = sorted(unions)
    jobs = [refine_job(batch[qi].query.question, [batch[qi].passages[p] for p in unions[(qi, k)]],
                       answers=batch[qi].query.answers) for qi, k in keys]
    refined = {key: [unions[key][p] for p in r.positions] or unions[key]
               for key, r in zip(keys, run_stage(selector, jobs, _decode(cfg, "refine"), limits))}

    out = []
    for qi, k in keys:
        c = batch[qi]
        out.append(SampledSet(
            query_id=c.query.id, sample=k, subqueries=subqueries[qi][k],
            raw_ids=[c.passages[p].id for p in unions[(qi, k)]],
            refined_ids=[c.passages[p].id for p in refined[(qi, k)]],
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
        s.dH = entropy_change(h, H0[s.query_id])
    return sets


def sample_sets(batch: list[Candidates], selector: Any, generator: Any, cfg: ESRConfig) -> list[SampledSet]:
    """Algorithm 1 lines 1–9: :func:`propose_sets` then :func:`score_sets`."""
    return score_sets(batch, propose_sets(batch, selector, cfg), generator, cfg.max_words)


def _decode(cfg: ESRConfig, stage: str) -> DecodeConfig:
    """Selection-only, constrained, sampled with the stage's seed (``cfg.seed``, stage)."""
    return DecodeConfig(reasoning=False, max_passages=cfg.max_passages, selection_max_tokens=cfg.select_tokens,
                        sampling=Sampling(cfg.temperature, cfg.top_p, _seed(cfg.seed, stage)))
