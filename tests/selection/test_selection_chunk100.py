"""Pools larger than the context: 100 real HotpotQA candidates with the real SmolLM2 (slow).

Ten dev questions' paragraphs are pooled into one 100-candidate pool for the first
question. At 60 words per passage (the floor) the pool cannot fit SmolLM2's 8,192
tokens, so it is split into chunks selected in one batched call, and the union is
re-selected in a second call.
"""

from __future__ import annotations

import pytest

from setsel.selection import get_selector
from setsel.types import Candidates

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_selection_setr_100_candidates_chunked_then_reselected(recording, data_dir):
    from setsel.datasets import load_dataset

    ten = load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500" / "dev.jsonl", limit=11)
    passages = [p for c in ten for p in c.passages][:100]
    assert len(passages) == 100
    pool = Candidates(query=ten[0].query, passages=passages)
    eng = recording()
    [s] = get_selector("setr", variant="selection_only", engine=eng, max_passages=5, max_words=60, min_words=60).select([pool])
    assert len(eng.calls) >= 2
    first_prompts, first_params = eng.calls[0]
    assert len(first_prompts) >= 2  # the pool was split into chunks, all in one call
    for prompt in first_prompts:
        assert eng.count_tokens(prompt) + first_params.max_tokens <= eng.max_context
    n_chunk_passages = [prompt[-1]["content"].count(" Title: ") for prompt in first_prompts]
    assert sum(n_chunk_passages) == 100 and max(n_chunk_passages) - min(n_chunk_passages) <= 1
    # the re-selection sees only passages the chunks chose
    second_prompts, _ = eng.calls[1]
    assert len(second_prompts) == 1
    assert second_prompts[0][-1]["content"].count(" Title: ") <= 5 * len(first_prompts)
    assert s.parse_status in ("ok", "repaired") and s.fallback_used is None
    assert 1 <= len(s.selected_ids) <= 5 and set(s.selected_ids) <= set(pool.ids)
