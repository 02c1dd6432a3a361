"""``optiset``: OptiSet Expand-then-Refine, training-free (OptiSet §3.1, Appendix E Tables 5–7).

For a batch of questions, three stages, each one batched engine call (per phase):

1. **Expand** (``optiset_expand``, reply starts with ``### Queries:``): sub-queries
   ``Qs`` per question (at most ``max_subqueries``), parsed by
   :func:`setsel.prompts.parse_queries`.
2. **Select** (``optiset_select``): for every ``q' ∈ {q} ∪ Qs`` of every question, one
   prompt over the whole pool with ``q'`` as the search query and the others listed as
   sub-queries (as in synthesis, :mod:`setsel.synthesis.esr`); pools larger than the
   context are split into chunks in the same call. ``S_raw`` = the union of all these
   selections, in pool order (Eq. 2).
3. **Refine** (``optiset_refine``): re-select from ``S_raw`` with the question only (Eq. 3).
   A failed refinement keeps ``S_raw`` (recorded as a problem).

Ablations (OptiSet Table 2): ``expand=False`` selects for the question alone (then
refines); ``refine=False`` returns ``S_raw``. Select and refine decode in two phases
(reasoning, then the constrained selection) unless ``constrained=False``.

Example:
    >>> from setsel.selection import get_selector
    >>> sel = get_selector("optiset", refine=False, reasoning_tokens=64)
    >>> sel.label
    'optiset:no_refine'
    >>> sel.select(candidates)[0].selected_ids   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from setsel.prompts import get_template, parse_queries, render
from setsel.selection import register_selector
from setsel.selection.base import SelectorError, SelectorOptions, check_positive_int
from setsel.selection.decoding import generate_safe
from setsel.selection.llm import LLMOptions, LLMSelector
from setsel.selection.stages import Job, StageResult, run_stage
from setsel.types import Candidates, GenerationParams, Selection


@dataclass
class OptiSetOptions(LLMOptions):
    """:class:`~setsel.selection.llm.LLMOptions` plus the ablation switches and expansion budget."""

    expand: bool = True
    refine: bool = True
    max_subqueries: int = 4
    expand_tokens: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("expand", "refine"):
            if not isinstance(getattr(self, name), bool):
                raise SelectorError(f"{name} must be true or false, got {getattr(self, name)!r}")
        check_positive_int("max_subqueries", self.max_subqueries, allow_none=False)
        check_positive_int("expand_tokens", self.expand_tokens, allow_none=False)


def select_jobs(question: str, subqueries: list[str], passages: list, **fields: Any) -> list[Job]:
    """The selection prompts for one question: one per ``q' ∈ {q} ∪ Qs``, others as sub-queries
    (``fields``: extra template fields of every prompt, e.g. synthesis's gold ``answers``).

    >>> [j.question for j in select_jobs("Q?", ["A?", "B?"], ["p"])]
    ['Q?', 'A?', 'B?']
    >>> select_jobs("Q?", [], ["p"])[0].fields
    {'queries': ['Q?']}
    """
    queries = [question] + [s for s in subqueries if s.strip().casefold() != question.strip().casefold()]
    jobs = []
    for q_prime in queries:
        others = [x for x in queries if x != q_prime] or [question]
        jobs.append(Job(question=q_prime, passages=passages, template="optiset_select",
                        fields={"queries": others, **fields}))
    return jobs


def refine_job(question: str, passages: list, **fields: Any) -> Job:
    """Stage 3's prompt: re-select from ``S_raw`` (``passages``) with the question only (Eq. 3).

    >>> refine_job("Q?", ["p"]).template
    'optiset_refine'
    """
    return Job(question=question, passages=passages, template="optiset_refine", fields=dict(fields))


@register_selector("optiset")
class OptiSet(LLMSelector):
    """Expand-then-Refine set selection with any engine (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = OptiSetOptions

    @property
    def label(self) -> str:
        o = self.options
        if o.expand and o.refine:
            return self.name
        return f"{self.name}:" + "_".join(s for s, on in (("no_expand", o.expand), ("no_refine", o.refine)) if not on)

    def expand(self, batch: list[Candidates]) -> tuple[list[list[str]], list[StageResult]]:
        """Stage 1: sub-queries per question (one engine call), and each prompt's usage."""
        traces = [StageResult(status="ok") for _ in batch]
        if not self.options.expand:
            return [[] for _ in batch], traces
        prefix = get_template("optiset_expand").assistant_prefix
        prompts, owners = [], []
        for i, c in enumerate(batch):
            try:
                prompts.append(render("optiset_expand", question=c.query.question))
                owners.append(i)
            except ValueError as exc:
                traces[i].problems.append(f"expand: {exc}")
        params = GenerationParams(max_tokens=self.options.expand_tokens, prefix=prefix)
        subqueries: list[list[str]] = [[] for _ in batch]
        for i, c in zip(owners, generate_safe(self.engine, prompts, params) if prompts else []):
            if isinstance(c, str):
                traces[i].problems.append(f"expand: {c}")
                continue
            traces[i].prompt_tokens += c.prompt_tokens
            traces[i].completion_tokens += c.completion_tokens
            traces[i].outputs.append(f"[expand]\n{c.text}")
            subqueries[i] = parse_queries(c.text)[: self.options.max_subqueries]
            if not subqueries[i]:
                traces[i].problems.append("expand: no sub-queries parsed; selecting for the question alone")
        return subqueries, traces

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        subqueries, traces = self.expand(batch)
        # Stage 2: select for q and every sub-query, all questions, one stage.
        jobs, owners = [], []
        for i, c in enumerate(batch):
            for job in select_jobs(c.query.question, subqueries[i], c.passages):
                jobs.append(job)
                owners.append(i)
        selected = run_stage(self.engine, jobs, self.decode_config(True), self.limits, reselect=False)
        unions: list[set[int]] = [set() for _ in batch]
        for i, (job, r) in zip(owners, zip(jobs, selected)):
            _merge(traces[i], r, f"select [{job.question[:60]}]")
            unions[i].update(r.positions)
        raw = [sorted(u) for u in unions]
        for i, t in enumerate(traces):
            t.positions = raw[i]
            if not raw[i]:
                t.status = "failed"
        # Stage 3: refine each union with the question only.
        if self.options.refine:
            todo = [i for i in range(len(batch)) if raw[i]]
            jobs = [refine_job(batch[i].query.question, [batch[i].passages[p] for p in raw[i]]) for i in todo]
            for i, r in zip(todo, run_stage(self.engine, jobs, self.decode_config(True), self.limits)):
                _merge(traces[i], r, "refine")
                if r.status == "failed":
                    traces[i].problems.append("refine failed; kept the union of the selections")
                    traces[i].status = "repaired"
                else:
                    traces[i].positions = [raw[i][p] for p in r.positions]
        return [self.to_selection(c, t) for c, t in zip(batch, traces)]


def _merge(trace: StageResult, r: StageResult, label: str) -> None:
    """Fold a stage result's usage, texts, problems and status into the question's trace."""
    trace.prompt_tokens += r.prompt_tokens
    trace.completion_tokens += r.completion_tokens
    trace.prompts += r.prompts
    trace.outputs.extend(f"[{label}]\n{o}" for o in r.outputs)
    trace.reasoning.extend(r.reasoning)
    trace.problems.extend(f"{label}: {p}" for p in r.problems)
    if r.status in ("repaired", "failed") and trace.status == "ok":
        trace.status = "repaired"
