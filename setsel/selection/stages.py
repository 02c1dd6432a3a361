"""One batched LLM selection stage over many selection jobs, with chunking for large pools.

A :class:`Job` is one selection prompt to make: a question, the passages it may choose
from (in prompt order), a template and its extra fields (sub-queries). :func:`run_stage`
runs a stage for all jobs of a batch:

1. every job's pool is planned into prompts that fit the context
   (:func:`setsel.selection.chunking.plan_chunks`);
2. all prompts of all jobs are decoded together (:func:`~setsel.selection.decoding.decode_selections`:
   one engine call per phase);
3. per job, the chunk selections are mapped back to pool positions and united;
4. with ``reselect=True`` a job that needed several chunks goes round again over the union
   (one more batched call for all such jobs), until its pool fits one prompt; if a
   re-selection fails to parse, the union it started from is kept (recorded).

Local prompt ids ``[i]`` map to pool positions through each chunk's index list, so the
mapping is exact however the pool was split.

Example (with a real engine)::

    jobs = [Job(question=c.query.question, passages=c.passages, template="setr_selection_only")]
    [result] = run_stage(engine, jobs, DecodeConfig(reasoning=False), StageLimits())
    result.positions   # e.g. [0, 3]: indices into jobs[0].passages
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from setsel.prompts import render
from setsel.selection.chunking import PoolTooLargeError, PromptError, plan_chunks
from setsel.selection.decoding import DecodeConfig, Decoded, decode_selections
from setsel.text import DEFAULT_MAX_WORDS, dedupe_keep_order
from setsel.types import Message

# Context tokens kept free besides the generation budget (tokenizer drift between counts).
MARGIN_TOKENS = 16


@dataclass(frozen=True)
class StageLimits:
    """Per-passage word budgets: start at ``max_words``, split below ``min_words``."""

    max_words: int = DEFAULT_MAX_WORDS
    min_words: int = 50
    max_rounds: int = 4

    def __post_init__(self) -> None:
        for name in ("max_words", "min_words", "max_rounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int ≥ 1, got {value!r}")


@dataclass
class Job:
    """One selection to make: ``passages`` in prompt order, ``template`` with ``fields``."""

    question: str
    passages: Sequence[Any]
    template: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageResult:
    """What a stage chose for one job: ``positions`` index ``Job.passages``.

    ``status`` is ``ok`` / ``repaired`` / ``failed`` (no usable id anywhere); ``outputs``
    and ``reasoning`` hold every prompt's raw text (one per chunk and round).
    """

    positions: list[int] = field(default_factory=list)
    status: str = "failed"
    outputs: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompts: int = 0
    problems: list[str] = field(default_factory=list)

    def absorb(self, d: Decoded, label: str) -> None:
        """Add one prompt's decoding (usage, texts, problems) to this result."""
        self.prompt_tokens += d.prompt_tokens
        self.completion_tokens += d.completion_tokens
        self.prompts += 1
        self.outputs.append(d.raw_output)
        if d.reasoning:
            self.reasoning.append(d.reasoning)
        for p in d.problems + d.parsed.problems:
            self.problems.append(f"{label}: {p}")


def _render_fn(job: Job, pool: list[int], max_passages: int | None):
    extra = dict(job.fields)
    if max_passages is not None:
        extra["max_passages"] = max_passages

    def build(indices: list[int], words: int | None) -> list[Message]:
        return render(job.template, question=job.question, passages=[job.passages[pool[i]] for i in indices],
                      max_words=words, **extra)

    return build


def run_stage(
    engine: Any, jobs: list[Job], cfg: DecodeConfig, limits: StageLimits, reselect: bool = True
) -> list[StageResult]:
    """Run one selection stage for ``jobs`` (see the module docstring).

    Returns one :class:`StageResult` per job, in order. Never raises for model output; a
    job whose single passage cannot fit the context is ``failed`` with that problem.
    """
    results = [StageResult() for _ in jobs]
    pools: dict[int, list[int]] = {j: list(range(len(job.passages))) for j, job in enumerate(jobs) if job.passages}
    for j, job in enumerate(jobs):
        if not job.passages:
            results[j].problems.append("empty candidate pool")
    for round_no in range(1, limits.max_rounds + 1):
        if not pools:
            break
        prompts, sizes, owners = [], [], []
        for j, pool in list(pools.items()):
            budget = engine.max_context - cfg.generation_budget(len(pool)) - MARGIN_TOKENS
            try:
                chunks = plan_chunks(_render_fn(jobs[j], pool, cfg.max_passages), len(pool), engine.count_tokens,
                                     budget, limits.max_words, limits.min_words)
            except (PoolTooLargeError, PromptError) as exc:
                results[j].problems.append(f"round {round_no}: {exc}")
                del pools[j]
                continue
            for chunk in chunks:
                prompts.append(chunk.messages)
                sizes.append(len(chunk.indices))
                owners.append((j, [pool[i] for i in chunk.indices], len(chunks)))
        decoded = decode_selections(engine, prompts, sizes, cfg)
        chosen: dict[int, list[list[int] | None]] = {}
        for d, (j, positions, n_chunks) in zip(decoded, owners):
            label = f"round {round_no}" + (f" chunk {len(chosen.get(j, [])) + 1}/{n_chunks}" if n_chunks > 1 else "")
            results[j].absorb(d, label)
            ids = d.parsed.ids if d.parsed.status != "failed" else None
            chosen.setdefault(j, []).append(None if ids is None else [positions[i - 1] for i in ids])
            if d.parsed.status == "repaired":
                results[j].status = "repaired"
        for j, parts in chosen.items():
            union = dedupe_keep_order(p for part in parts if part for p in part)
            finished = len(parts) == 1 or not reselect
            if not union:
                if round_no > 1 and results[j].positions:
                    results[j].problems.append(f"round {round_no}: re-selection failed; kept the union of round {round_no - 1}")
                    results[j].status = "repaired"
                else:
                    results[j].status = "failed"
                del pools[j]
                continue
            if any(part is None for part in parts):
                results[j].status = "repaired"
            elif results[j].status == "failed":
                results[j].status = "ok"
            results[j].positions = union
            if finished or len(union) >= len(pools[j]):
                if not finished:
                    results[j].problems.append(f"round {round_no}: the chunks kept every passage; no re-selection")
                del pools[j]
            else:
                pools[j] = union
    for j in list(pools):
        results[j].problems.append(f"stopped after {limits.max_rounds} rounds with {len(pools[j])} passages")
    return results
