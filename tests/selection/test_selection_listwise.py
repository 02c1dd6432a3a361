"""Listwise sliding-window reranking with the real SmolLM2 (slow): one engine call per window round."""

from __future__ import annotations

import pytest

from setsel.prompts import parse_ranking
from setsel.selection import get_selector
import re

from setsel.selection.listwise import ranking_regex, sliding_windows

pytestmark = pytest.mark.slow


@pytest.mark.timeout(420)
def test_selection_listwise_windows_batched_across_questions(recording, hotpot):
    eng = recording()
    # window 6 step 3 over pools of 10 → windows (4,10), (1,7), (0,4): three rounds, each one call
    batch = hotpot[:2]
    out = get_selector("listwise", engine=eng, window=6, step=3, k=3, max_words=20).select(batch)
    assert sliding_windows(10, 6, 3) == [(4, 10), (1, 7), (0, 4)]
    assert [len(prompts) for prompts, _ in eng.calls] == [2, 2, 2]
    # constrained by default: each window's reply is a full chain over that window's ids
    sizes = [end - start for start, end in sliding_windows(10, 6, 3)]
    assert [p.constraint.pattern for _, p in eng.calls] == [ranking_regex(n) for n in sizes]
    for outputs, n in zip(eng.outputs, sizes):
        assert all(re.fullmatch(ranking_regex(n), text.strip()) for text in outputs), outputs
    assert all(s.parse_status in ("ok", "repaired") and s.fallback_used is None for s in out)
    for c, s in zip(batch, out):
        assert s.ordered and len(s.selected_ids) == 3 and set(s.selected_ids) <= set(c.ids)
        assert s.raw_output.count("[window ") == 3
    # replay the three windows on the first question from the recorded outputs
    c, s = batch[0], out[0]
    order = list(range(10))
    texts = [outputs[0] for outputs in eng.outputs]  # question 0 is first in every round
    for (start, end), text in zip(sliding_windows(10, 6, 3), texts):
        parsed = parse_ranking(text, end - start)
        if parsed.status != "failed":
            seg = order[start:end]
            order = order[:start] + [seg[i - 1] for i in parsed.ids] + order[end:]
    if s.fallback_used is None:
        assert s.selected_ids == [c.passages[i].id for i in order[:3]]
    else:
        assert s.parse_status == "failed" and s.selected_ids == c.ids[:3]


@pytest.mark.timeout(300)
def test_selection_listwise_unconstrained_is_free_generation(recording, hotpot):
    """``constrained=False``: RankGPT's free generation (no constraint), one call per round."""
    eng = recording()
    get_selector("listwise", engine=eng, window=10, step=5, k=2, max_words=20, constrained=False).select(hotpot[:2])
    assert [len(prompts) for prompts, _ in eng.calls] == [2]
    assert all(p.constraint is None for _, p in eng.calls)
