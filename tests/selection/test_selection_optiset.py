"""OptiSet Expand-then-Refine with the real SmolLM2 on real HotpotQA pools (slow).

Counts engine calls per stage with the recording wrapper (conftest), which delegates to
the real engine.
"""

from __future__ import annotations

import pytest

from setsel.prompts import parse_queries
from setsel.selection import get_selector
from setsel.selection.optiset import select_jobs
from setsel.types import SelectionConstraint

pytestmark = pytest.mark.slow
SMALL = dict(max_words=25, reasoning_tokens=16, expand_tokens=40, max_subqueries=2)


@pytest.mark.timeout(420)
def test_selection_optiset_one_call_per_stage_and_phase(recording, hotpot):
    eng = recording()
    batch = hotpot[:2]
    out = get_selector("optiset", engine=eng, **SMALL).select(batch)
    kinds = [("prefix" if p.prefix else "constraint" if p.constraint else "free") for _, p in eng.calls]
    # expand; select (reasoning, constrained); refine (reasoning, constrained)
    assert kinds == ["prefix", "free", "constraint", "free", "constraint"]
    expand_prompts, expand_params = eng.calls[0]
    assert expand_params.prefix == "### Queries:" and len(expand_prompts) == 2
    # the select stage holds one prompt per (question, q') with q' ∈ {q} ∪ Qs, for all questions
    n_select = len(eng.calls[1][0])
    subqueries = [parse_queries(text)[:2] for text in eng.outputs[0]]
    assert n_select == sum(len(select_jobs(c.query.question, q, c.passages)) for c, q in zip(batch, subqueries))
    assert n_select >= 2
    assert len(eng.calls[2][0]) == n_select
    # refine: one prompt per question whose union is non-empty, over exactly the union's passages
    refine_prompts = eng.calls[3][0]
    assert len(refine_prompts) == 2
    assert all(isinstance(p.constraint, SelectionConstraint) for _, p in eng.calls[2::2])
    for c, s in zip(batch, out):
        assert s.method == "optiset" and set(s.selected_ids) <= set(c.ids)
        assert s.parse_status in ("ok", "repaired") and s.fallback_used is None
        assert "[refine]" in s.raw_output and s.prompt_tokens > 0


@pytest.mark.timeout(420)
def test_selection_optiset_ablations(recording, hotpot):
    batch = hotpot[2:3]
    eng = recording()
    [no_expand] = get_selector("optiset", engine=eng, expand=False, **SMALL).select(batch)
    assert all(p.prefix is None for _, p in eng.calls) and len(eng.calls) == 4
    assert len(eng.calls[0][0]) == 1  # the question alone
    assert no_expand.method == "optiset:no_expand"
    eng = recording()
    [no_refine] = get_selector("optiset", engine=eng, refine=False, **SMALL).select(batch)
    assert len(eng.calls) == 3 and "[refine]" not in no_refine.raw_output
    # without refinement the result is the union of the per-query selections, in pool order
    c = batch[0]
    positions = sorted(c.ids.index(i) for i in no_refine.selected_ids)
    assert no_refine.selected_ids == [c.ids[p] for p in positions]
