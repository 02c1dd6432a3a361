"""Prefill-once / decode-together (setsel.engines.prefill) and the engine dtype choice.

Pure planning with hand-made token lists; the engine paths on the tiny random Llama (fp32 and
bf16): shared prefixes and ``n`` samples are prefilled once, and the outputs equal those of a
plain one-prompt-at-a-time ``model.generate``.
"""

import pytest

from setsel.engines import GenerationParams, load_engine
from setsel.engines.hf import resolve_dtype
from setsel.engines.prefill import common_prefix, plan_prefill

pytestmark = pytest.mark.timeout(180)


def test_common_prefix():
    assert common_prefix([], [1]) == 0
    assert common_prefix([5, 6, 7], [5, 6, 7, 8]) == 3
    assert common_prefix([5, 6, 7], [5, 0, 7]) == 1


def test_plan_dedupes_orders_and_shares():
    pool = list(range(100, 140))  # 40 shared tokens
    prompts = [pool + [1, 2], [9, 9, 9], pool + [0, 5, 6], pool + [1, 2]]
    plan = plan_prefill(prompts, min_shared=32)
    # distinct prompts once each (index 3 repeats 0), in token order: [9,9,9] < pool+[0,..] < pool+[1,..];
    # pool+[1,2] reuses the 40 pool tokens cached by its predecessor pool+[0,5,6]
    assert plan == [(1, None, 0), (2, None, 0), (0, 2, 40)]


def test_plan_respects_min_shared_and_the_last_token():
    # only the cache of prompt[:-1] exists, so a prompt can reuse at most len-1 tokens of its parent
    assert plan_prefill([[1, 2, 3], [1, 2, 4]], min_shared=1) == [(0, None, 0), (1, 0, 2)]
    assert plan_prefill([[1, 2], [1, 2, 3, 4]], min_shared=1) == [(0, None, 0), (1, 0, 1)]
    assert plan_prefill([[1, 2, 3], [1, 2, 4]], min_shared=3) == [(0, None, 0), (1, None, 0)]


def test_resolve_dtype(monkeypatch):
    import setsel.hardware as hw

    monkeypatch.setattr(hw, "preferred_dtype", lambda device="cpu": "bf16")
    assert resolve_dtype("auto") == "bfloat16"
    monkeypatch.setattr(hw, "preferred_dtype", lambda device="cpu": "fp32")
    assert resolve_dtype("auto") == "float32" and resolve_dtype("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("int8")


POOL = " ".join(f"Passage {i}: the river number {i} flows into lake {i * 7}." for i in range(12))
SHARED = [[{"role": "user", "content": f"{POOL}\nQuestion {q}: where does river {q} flow?"}] for q in (3, 5, 8)]


def _reference(engine, prompts, max_tokens):
    """Plain transformers generate, one prompt at a time, no cache tricks."""
    import torch

    out = []
    for messages in prompts:
        enc = engine.tokenizer(engine.chat_text(messages), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            ids = engine.model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                        pad_token_id=engine.tokenizer.pad_token_id, eos_token_id=sorted(engine.end_ids))
        new = [t for t in ids[0, enc["input_ids"].shape[1]:].tolist()]
        cut = next((k for k, t in enumerate(new) if t in engine.end_ids), len(new))
        out.append(engine.tokenizer.decode(new[:cut], skip_special_tokens=True))
    return out


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_shared_prefix_greedy_equals_plain_generate(tiny_model_dir, dtype):
    engine = load_engine(f"hf:{tiny_model_dir}", batch_size=4, num_threads=1, dtype=dtype)
    assert engine.dtype == dtype and str(engine.model.dtype) == f"torch.{dtype}"
    got = [c[0].text for c in engine.generate(SHARED, GenerationParams(max_tokens=10))]
    assert got == _reference(engine, SHARED, 10)
    assert len(set(got)) > 1


def test_prefill_counts_shared_tokens_once(tiny_model_dir):
    engine = load_engine(f"hf:{tiny_model_dir}", batch_size=8, num_threads=1, dtype="float32")
    lengths = [engine.count_tokens(p) for p in SHARED]
    engine.stats.reset()
    engine.generate(SHARED, GenerationParams(max_tokens=2))
    shared = engine.stats.prefill_tokens
    separate = load_engine(f"hf:{tiny_model_dir}", batch_size=8, num_threads=1, dtype="float32", min_shared=10_000)
    separate.stats.reset()
    separate.generate(SHARED, GenerationParams(max_tokens=2))
    # each prompt alone prefills len-1 tokens; sharing the pool prefills it once
    assert separate.stats.prefill_tokens == sum(n - 1 for n in lengths)
    assert shared < separate.stats.prefill_tokens - lengths[0] // 2
    # n samples of one prompt: one prefill, not n
    engine.stats.reset()
    engine.generate(SHARED[:1], GenerationParams(n=4, temperature=1.0, seed=3, max_tokens=2))
    assert engine.stats.prefill_tokens == lengths[0] - 1


def test_token_budget_cuts_batches(tiny_model_dir):
    engine = load_engine(f"hf:{tiny_model_dir}", batch_size=8, batch_tokens=300, num_threads=1, dtype="float32")
    rows = [(i, 0) for i in range(5)]
    assert engine._batches(rows, [100, 100, 100, 50, 350]) == [[(0, 0), (1, 0), (2, 0)], [(3, 0)], [(4, 0)]]
    unbudgeted = load_engine(f"hf:{tiny_model_dir}", batch_size=8, num_threads=1, dtype="float32")
    params = GenerationParams(max_tokens=8)
    assert [c[0].text for c in engine.generate(SHARED, params)] == [c[0].text for c in unbudgeted.generate(SHARED, params)]
    with pytest.raises(ValueError, match="batch_tokens"):
        load_engine(f"hf:{tiny_model_dir}", batch_tokens=0)
