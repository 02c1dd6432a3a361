"""Decoding edge cases with the real engine (slow): per-pool retry, over-long prompts, unfit pools.

The recording wrapper (conftest) delegates to the real SmolLM2; where a test needs a fixed
model answer it replaces the completion text after the real model ran (documented there).
"""

from __future__ import annotations

import pytest

from setsel.prompts import render
from setsel.selection import get_selector
from setsel.selection.decoding import DecodeConfig, decode_selections
from setsel.types import Candidates, Passage, Query

pytestmark = pytest.mark.slow


def _prompt(n, words=5):
    passages = [{"title": f"T{i}", "text": " ".join(["word"] * words)} for i in range(n)]
    return render("setr_selection_only", question="Which passage?", passages=passages, max_words=None)


@pytest.mark.timeout(240)
def test_selection_decode_retries_a_small_pool_under_its_own_constraint(recording):
    # Every answer is "[9]": in range for the 10-passage prompt, out of range for the 3-passage one.
    eng = recording(replace_text="### Final Selection: [9]")
    out = decode_selections(eng, [_prompt(10), _prompt(3)], [10, 3], DecodeConfig(reasoning=False))
    widths = [(len(prompts), p.constraint.num_candidates) for prompts, p in eng.calls]
    assert widths == [(2, 10), (1, 3)]  # one call for the batch, one retry for the small pool
    assert out[0].parsed.ids == [9] and out[0].parsed.status == "ok"
    assert out[1].parsed.status == "failed" and any("retried" in p for p in out[1].problems)
    assert out[1].completion_tokens > 0  # both attempts' usage is kept


@pytest.mark.timeout(240)
def test_selection_decode_over_long_prompt_fails_alone(recording):
    eng = recording()
    huge = _prompt(2, words=9000)
    assert eng.count_tokens(huge) > eng.max_context
    out = decode_selections(eng, [_prompt(4), huge], [4, 2], DecodeConfig(reasoning=False))
    assert out[0].parsed.status in ("ok", "repaired") and out[0].parsed.ids
    assert out[1].parsed.status == "failed" and "too long" in out[1].problems[0]
    assert len(eng.calls[-1][0]) == 1  # the rest of the batch ran without the rejected prompt


@pytest.mark.timeout(120)
def test_selection_pool_that_cannot_fit_gets_the_fallback(recording):
    eng = recording()
    q = Query(id="q", question="Which passage?")
    cand = Candidates(query=q, passages=[Passage(id=f"p{i}", title="T", text=" ".join(["word"] * 12000))
                                         for i in range(3)])
    [s] = get_selector("setr", variant="selection_only", engine=eng, max_words=12000, min_words=12000,
                       k=2).select([cand])
    assert eng.calls == []  # nothing could be sent to the model
    assert s.parse_status == "failed" and s.fallback_used == "topk:2" and s.selected_ids == ["p0", "p1"]
    assert any("does not fit" in p for p in s.problems)
