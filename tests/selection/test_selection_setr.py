"""SetR through ``Selector.select`` with the real SmolLM2 on real HotpotQA pools (slow).

Engine calls are counted with the recording wrapper (conftest): it delegates to the real
engine. Prompts are kept short (30 words per passage) so the suite stays within budget.
"""

from __future__ import annotations

import re

import pytest

from setsel.prompts import parse_selection
from setsel.selection import get_selector
from setsel.text import clean_passage_text
from setsel.types import SelectionConstraint

pytestmark = pytest.mark.slow
SHORT = dict(max_words=30)


def _prompt_titles(messages):
    """``{local id: title}`` of the passages rendered in a prompt."""
    text = messages[-1]["content"] if messages[-1]["role"] == "user" else messages[0]["content"]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\[(\d+)\] Title: (.*?) Content:", text, re.M)}


@pytest.mark.timeout(300)
def test_selection_setr_selection_only_one_call_for_the_batch(recording, hotpot):
    eng = recording()
    batch = hotpot[:4]
    out = get_selector("setr", variant="selection_only", engine=eng, **SHORT).select(batch)
    assert len(eng.calls) == 1  # the whole batch in one engine call
    prompts, params = eng.calls[0]
    assert len(prompts) == 4 and isinstance(params.constraint, SelectionConstraint)
    assert params.constraint.num_candidates == 10 and params.stop == ()
    for c, s, p in zip(batch, out, prompts):
        assert s.query_id == c.query.id and s.method == "setr:selection_only"
        assert s.parse_status in ("ok", "repaired") and s.fallback_used is None
        assert s.selected_ids and set(s.selected_ids) <= set(c.ids)
        parsed = parse_selection(s.raw_output, len(c.passages))
        assert s.selected_ids == [c.passages[i - 1].id for i in parsed.ids]
        assert s.raw_output.startswith("### Final Selection:")
        assert s.prompt_tokens > 0 and s.completion_tokens > 0 and s.latency_s > 0
        assert "Select at most" not in p[-1]["content"]


@pytest.mark.timeout(300)
def test_selection_setr_shuffle_maps_local_ids_back_exactly(recording, hotpot):
    eng = recording()
    batch = hotpot[4:6]
    out = get_selector("setr", variant="selection_only", engine=eng, shuffle_seed=3, **SHORT).select(batch)
    prompts, _ = eng.calls[0]
    for c, s, p in zip(batch, out, prompts):
        titles = _prompt_titles(p)
        original_titles = [clean_passage_text(x.title) for x in c.passages]
        assert list(titles.values()) != original_titles  # the pool really was permuted
        parsed = parse_selection(s.raw_output, len(c.passages))
        by_id = {x.id: clean_passage_text(x.title) for x in c.passages}  # as rendered
        # the title the model saw at [i] is the title of the passage id we return for it
        assert [by_id[i] for i in s.selected_ids] == [titles[i] for i in parsed.ids]


@pytest.mark.timeout(300)
def test_selection_setr_max_passages_in_prompt_constraint_and_result(recording, hotpot):
    eng = recording()
    out = get_selector("setr", variant="selection_only", engine=eng, max_passages=2, **SHORT).select(hotpot[:2])
    prompts, params = eng.calls[0]
    assert params.constraint.max_passages == 2
    assert all("Select at most 2 passages." in p[-1]["content"] for p in prompts)
    assert all(1 <= len(s.selected_ids) <= 2 for s in out)


@pytest.mark.timeout(300)
def test_selection_setr_max_passages_truncates_free_output(recording, hotpot):
    # Unconstrained, the model's text replaced (after the real model ran) by an over-budget answer.
    eng = recording(replace_text="Reasoning...\n### Final Selection: [4] [2] [9] [1]")
    [s] = get_selector("setr", variant="selection_only", engine=eng, max_passages=2, constrained=False,
                       **SHORT).select(hotpot[:1])
    c = hotpot[0]
    assert s.selected_ids == [c.passages[3].id, c.passages[1].id]
    assert s.parse_status == "ok" and any("max_passages=2" in p for p in s.problems)
    assert eng.calls[0][1].constraint is None


@pytest.mark.timeout(300)
def test_selection_setr_garbage_output_records_the_fallback(recording, hotpot):
    eng = recording(replace_text="I cannot decide, the passages are all interesting.")
    batch = hotpot[:2]
    out = get_selector("setr", variant="selection_only", engine=eng, constrained=False, k=3, **SHORT).select(batch)
    for c, s in zip(batch, out):
        assert s.parse_status == "failed" and s.fallback_used == "topk:3"
        assert s.selected_ids == c.ids[:3]
        assert s.raw_output == "I cannot decide, the passages are all interesting."
    empty = get_selector("setr", variant="selection_only", engine=eng, constrained=False, fallback="empty",
                         **SHORT).select(batch[:1])
    assert empty[0].selected_ids == [] and empty[0].fallback_used == "empty"


@pytest.mark.timeout(300)
def test_selection_setr_iri_two_phases(recording, hotpot):
    eng = recording()
    [s] = get_selector("setr", variant="iri", engine=eng, reasoning_tokens=24, **SHORT).select(hotpot[:1])
    assert len(eng.calls) == 2
    (p1, params1), (p2, params2) = eng.calls
    assert params1.constraint is None and params1.stop == ("### Final Selection",) and params1.max_tokens == 24
    assert isinstance(params2.constraint, SelectionConstraint)
    # phase 2 continues the conversation with the model's own reasoning
    assert p2[0][-2] == {"role": "assistant", "content": s.reasoning}
    assert s.reasoning and s.raw_output.startswith(s.reasoning)
    assert s.parse_status in ("ok", "repaired") and s.fallback_used is None
    assert s.completion_tokens > 0


@pytest.mark.timeout(300)
def test_selection_setr_unconstrained_is_one_free_generation(recording, hotpot):
    eng = recording()
    batch = hotpot[:2]
    out = get_selector("setr", variant="cot", engine=eng, reasoning_tokens=24, constrained=False, **SHORT).select(batch)
    assert len(eng.calls) == 1 and eng.calls[0][1].constraint is None
    for c, s in zip(batch, out):
        parsed = parse_selection(s.raw_output, len(c.passages))
        assert s.parse_status == parsed.status
        if parsed.status == "failed":
            assert s.fallback_used == "topk:5" and s.selected_ids == c.ids[:5]
        else:
            assert s.selected_ids == [c.passages[i - 1].id for i in parsed.ids]
