"""Pure logic of the selection methods, with hand-computed expectations (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from setsel.selection import SelectorError, get_selector
from setsel.selection.chunking import PoolTooLargeError, plan_chunks, split_even
from setsel.selection.cross_encoder import rank_by_scores
from setsel.selection.decoding import DecodeConfig, selection_request, selection_tokens, with_reasoning
from setsel.selection.listwise import apply_window, sliding_windows
from setsel.selection.mmr import mmr_order
from setsel.selection.optiset import select_jobs


# ----------------------------------------------------------------------------- listwise windows
@pytest.mark.parametrize(
    ("n", "window", "step", "expected"),
    [
        (0, 20, 10, []),
        (10, 20, 10, [(0, 10)]),  # smaller than one window: a single window
        (20, 20, 10, [(0, 20)]),
        (25, 20, 10, [(5, 25), (0, 15)]),
        (30, 20, 10, [(10, 30), (0, 20)]),
        (100, 20, 10, [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30), (0, 20)]),
        (7, 4, 2, [(3, 7), (1, 5), (0, 3)]),
    ],
)
def test_selection_sliding_windows_back_to_front(n, window, step, expected):
    assert sliding_windows(n, window, step) == expected


def test_selection_apply_window_permutes_only_the_window():
    order = ["a", "b", "c", "d", "e"]
    assert apply_window(order, 1, 4, [3, 1, 2]) == ["a", "d", "b", "c", "e"]
    assert apply_window(order, 0, 5, [5, 4, 3, 2, 1]) == ["e", "d", "c", "b", "a"]
    assert order == ["a", "b", "c", "d", "e"]  # not modified in place


def test_selection_listwise_bubbles_the_best_passage_to_the_front():
    # Passage "z" at the back; every window ranks it first → after all windows it leads.
    order = list("abcdefghijklmnopqrstuvwxyz")
    for start, end in sliding_windows(len(order), 6, 3):
        segment = order[start:end]
        ranking = [segment.index("z") + 1] + [i + 1 for i in range(len(segment)) if segment[i] != "z"] \
            if "z" in segment else list(range(1, len(segment) + 1))
        order = apply_window(order, start, end, ranking)
    assert order[0] == "z"


# ----------------------------------------------------------------------------- mmr
def test_selection_mmr_hand_computed():
    q = np.array([1.0, 0.0])
    docs = np.array([[0.8, 0.6], [0.6, 0.8], [0.8, -0.6]])
    # relevance: .8 .6 .8 ; sim(d0,d1)=.96, sim(d0,d2)=.28, sim(d1,d2)=0
    # λ=1: ties of d0/d2 → earlier index first, then d2, then d1.
    assert mmr_order(q, docs, k=3, lambda_=1.0) == [0, 2, 1]
    # λ=.5, step 2: d1 .5*.6-.5*.96=-.18 ; d2 .5*.8-.5*.28=.26 → d2
    # step 3: d1 only left.
    assert mmr_order(q, docs, k=3, lambda_=0.5) == [0, 2, 1]
    # λ=.2 from d0: d1 .2*.6-.8*.96=-.648 ; d2 .2*.8-.8*.28=-.064 → d2
    assert mmr_order(q, docs, k=2, lambda_=0.2) == [0, 2]
    # λ=0: pure diversity; first pick all scores 0 → index 0; then the least similar to d0 (d2: .28)
    assert mmr_order(q, docs, k=2, lambda_=0.0) == [0, 2]
    assert mmr_order(q, docs, k=0, lambda_=0.5) == []
    assert mmr_order(q, np.zeros((0, 2)), k=3, lambda_=0.5) == []


def test_selection_mmr_redundancy_is_max_over_chosen():
    q = np.array([1.0, 0.0, 0.0])
    docs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.7071, 0.7071], [0.5, 0.0, 0.866]])
    # after d0: d1 .5*0-.5*0=0 ; d2 0 ; d3 .5*.5-.5*.5=0 → tie → d1 (earliest)
    # after d0,d1: d2 rel 0, red max(0, .7071)=.7071 → -.354 ; d3 rel .5, red max(.5, 0)=.5 → 0 → d3
    assert mmr_order(q, docs, k=3, lambda_=0.5) == [0, 1, 3]


class _TableEncoder:
    """Fixed unit vectors by text (a deterministic encoder for the selector plumbing)."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def encode(self, texts, kind="passage"):
        self.calls.append((kind, len(texts)))
        return np.array([self.table[t] for t in texts], dtype=np.float32)


def test_selection_mmr_selector_batches_and_maps_ids(hotpot):
    from setsel.selection.mmr import passage_text

    batch = hotpot[:2]
    rng = np.random.default_rng(0)
    table = {}
    for c in batch:
        for p in c.passages:
            v = rng.normal(size=8)
            table[passage_text(p)] = v / np.linalg.norm(v)
        v = rng.normal(size=8)
        table[c.query.question] = v / np.linalg.norm(v)
    enc = _TableEncoder(table)
    sel = get_selector("mmr", k=3, lambda_=0.7, encoder=enc)
    out = sel.select(batch)
    assert enc.calls == [("passage", sum(len(c.passages) for c in batch)), ("query", 2)]
    for c, s in zip(batch, out):
        docs = np.array([table[passage_text(p)] for p in c.passages])
        expected = mmr_order(table[c.query.question], docs, 3, 0.7)
        assert s.selected_ids == [c.passages[i].id for i in expected]
        assert s.ordered and s.parse_status == "ok" and s.method == "mmr"
    capped = get_selector("mmr", k=3, max_passages=2, encoder=enc).select(batch)
    assert [len(s.selected_ids) for s in capped] == [2, 2]


# ----------------------------------------------------------------------------- chunking
def _words_render(indices, words):
    w = 10 if words is None else words
    return [{"role": "user", "content": "head " + " ".join(" ".join(["x"] * w) for _ in indices)}]


def _count(messages):
    return len(messages[0]["content"].split())


def test_selection_split_even():
    assert split_even(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert split_even([1, 2], 5) == [[1], [2]]
    assert split_even([1, 2, 3], 1) == [[1, 2, 3]]


def test_selection_plan_chunks_shrinks_words_before_splitting():
    # 6 passages × 10 words + 1 header word = 61 > 40: shrink words, 6 × 6 + 1 = 37 fits.
    chunks = plan_chunks(_words_render, 6, _count, budget=40, max_words=10, min_words=4)
    assert len(chunks) == 1 and chunks[0].indices == list(range(6))
    assert chunks[0].words is not None and 4 <= chunks[0].words < 10
    assert chunks[0].tokens <= 40


def test_selection_plan_chunks_splits_when_minimum_does_not_fit():
    # 10 passages at the minimum 5 words = 51 tokens > 30: split; each chunk fits.
    chunks = plan_chunks(_words_render, 10, _count, budget=30, max_words=10, min_words=5)
    assert len(chunks) == 2
    assert [c.indices for c in chunks] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert all(c.tokens <= 30 for c in chunks)
    assert sorted(i for c in chunks for i in c.indices) == list(range(10))


def test_selection_plan_chunks_one_passage_too_big():
    with pytest.raises(PoolTooLargeError):
        plan_chunks(_words_render, 3, _count, budget=4, max_words=10, min_words=5)


# ----------------------------------------------------------------------------- decoding helpers
def test_selection_decode_budgets_and_followup():
    assert selection_tokens(5) == 38
    cfg = DecodeConfig(reasoning=True, reasoning_tokens=100, max_passages=3)
    assert cfg.generation_budget(10) == selection_tokens(3) + 100 + 64
    assert DecodeConfig(reasoning=False).generation_budget(10) == selection_tokens(10)
    msgs = with_reasoning([{"role": "user", "content": "Q"}], "Step 1 ...", 2)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == "Step 1 ..." and "at most 2 passages" in msgs[2]["content"]
    assert "at most" not in selection_request(None)
    with pytest.raises(ValueError):
        DecodeConfig(reasoning_tokens=0)


def test_selection_optiset_select_jobs_one_per_query():
    jobs = select_jobs("Who is older?", ["When was A born?", "When was B born?", "who is older?"], ["p1", "p2"])
    assert [j.question for j in jobs] == ["Who is older?", "When was A born?", "When was B born?"]
    assert jobs[1].fields == {"queries": ["Who is older?", "When was B born?"]}
    assert all(j.template == "optiset_select" and j.passages == ["p1", "p2"] for j in jobs)


def test_selection_cross_encoder_rank_ties_keep_order():
    assert rank_by_scores([0.5, 2.0, 0.5, -1.0]) == [1, 0, 2, 3]


# ----------------------------------------------------------------------------- options
@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        ("setr", {"variant": "bogus"}, "variant"),
        ("setr", {"reasoning_tokens": 0}, "reasoning_tokens"),
        ("setr", {"window": 20}, "does not take"),
        ("optiset", {"expand": "yes"}, "expand"),
        ("listwise", {"window": 5, "step": 10}, "step"),
        ("mmr", {"lambda_": 1.5}, "lambda_"),
        ("cross_encoder", {}, "model"),
        ("setr", {"fallback": "random"}, "fallback"),
        ("setr", {"model": "smollm2"}, "model"),
    ],
)
def test_selection_bad_options_are_rejected(method, options, message):
    with pytest.raises(SelectorError, match=message):
        get_selector(method, **options)


def test_selection_options_and_labels():
    assert get_selector("setr", variant="cot").label == "setr:cot"
    assert get_selector("optiset").label == "optiset"
    assert get_selector("optiset", expand=False).label == "optiset:no_expand"
    assert get_selector("optiset", expand=False, refine=False).label == "optiset:no_expand_no_refine"
    s = get_selector("listwise", k=3, window=4, step=2, constrained=False, batch_size=2)
    assert (s.options.window, s.options.step, s.options.k, s.options.fallback) == (4, 2, 3, "topk:3")


def test_selection_engine_batch_size_only_for_engines_that_take_it():
    # The hf engine batches rows itself; vLLM and OpenAI-compatible servers schedule their own
    # batches and reject a batch_size option, so a selector loading them must not pass one.
    from setsel.selection.llm import engine_takes

    assert engine_takes("hf:smollm2-135m", "batch_size")
    assert not engine_takes("vllm:smollm2-135m", "batch_size")
    assert not engine_takes("openai:m@http://127.0.0.1:1", "batch_size")
    assert engine_takes("vllm:smollm2-135m", "multiprocessing")


def test_selection_setr_reasoning_trained_variants_decode_as_trained_by_default():
    """The variants trained to reason and select in one reply default to one free generation
    (the two-phase path would add a follow-up turn they never saw); the others stay two-phase;
    an explicit ``constrained`` always wins; a non-boolean is still rejected."""
    assert get_selector("setr", variant="trained_judgements").options.constrained is False
    assert get_selector("setr", variant="trained_titles").options.constrained is False
    assert get_selector("setr", variant="iri").options.constrained is True
    assert get_selector("setr", variant="trained").options.constrained is True
    assert get_selector("setr", variant="trained_judgements", constrained=True).options.constrained is True
    with pytest.raises(SelectorError, match="constrained"):
        get_selector("setr", variant="iri", constrained="yes")
