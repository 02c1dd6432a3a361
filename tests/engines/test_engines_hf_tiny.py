"""The hf engine on a tiny random Llama (offline, seconds): exact scoring, batching, seeds,
n samples, stop strings, prefixes, constraints, context limits, bad input."""

import pytest

from setsel.engines import (
    ContextLengthError,
    EngineError,
    GenerationParams,
    LLMEngine,
    RegexConstraint,
    SelectionConstraint,
    load_engine,
)

pytestmark = pytest.mark.timeout(180)

PROMPTS = [
    [{"role": "user", "content": "Tell me about rivers."}],
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of a country?"}],
    [{"role": "user", "content": "A somewhat longer question, so that the batch needs real left padding here."}],
]


def _texts(outs):
    return [[c.text for c in samples] for samples in outs]


def test_is_an_llm_engine(tiny_engine):
    assert isinstance(tiny_engine, LLMEngine)
    assert tiny_engine.max_context == 1024 and tiny_engine.model_id.startswith("hf:")


def test_score_matches_manual_forward(tiny_engine):
    import torch

    conts = ["Paris is big.", "yes", "A long answer with several tokens in it.", ""]
    scored = tiny_engine.score(PROMPTS, conts)
    tok = tiny_engine.tokenizer
    for messages, cont, s in zip(PROMPTS, conts, scored):
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tok.encode(text, add_special_tokens=False)
        cont_ids = tok.encode(cont, add_special_tokens=False)
        with torch.inference_mode():
            logits = tiny_engine.model(input_ids=torch.tensor([prompt_ids + cont_ids])).logits[0].float()
        lp = torch.log_softmax(logits, -1)
        manual = [float(lp[len(prompt_ids) + i - 1, t]) for i, t in enumerate(cont_ids)]
        assert len(s.token_logprobs) == len(cont_ids) == len(s.tokens)
        assert s.token_logprobs == pytest.approx(manual, abs=1e-4)
    assert scored[3].token_logprobs == [] and scored[0].sum_logprob < 0
    # one token spelling across engines: decoded text (what OpenAI-compatible servers return), not BPE's "Ġ"
    assert "".join(scored[2].tokens) == conts[2] and scored[2].tokens[1].startswith(" ")
    assert not any("Ġ" in t for s in scored for t in s.tokens)


def test_batched_equals_unbatched_greedy(tiny_engine):
    params = GenerationParams(max_tokens=12)
    batched = _texts(tiny_engine.generate(PROMPTS, params))
    single = [_texts(tiny_engine.generate([p], params))[0] for p in PROMPTS]
    assert batched == single
    assert len({b[0] for b in batched}) > 1  # the prompts really give different outputs


def test_seeds_reproduce_and_do_not_depend_on_the_batch(tiny_engine):
    params = GenerationParams(n=3, temperature=1.0, seed=11, max_tokens=10)
    a = tiny_engine.generate(PROMPTS, params)
    assert [len(s) for s in a] == [3, 3, 3, 3]
    assert _texts(a) == _texts(tiny_engine.generate(PROMPTS, params))
    assert _texts(tiny_engine.generate(PROMPTS[1:2], params)) == _texts(a)[1:2]
    assert len(set(_texts(a)[0])) > 1  # the n samples differ
    assert _texts(tiny_engine.generate(PROMPTS[:1], params.replace(seed=12))) != _texts(a)[:1]


def test_top_p_tiny_is_greedy(tiny_engine):
    greedy = _texts(tiny_engine.generate(PROMPTS, GenerationParams(max_tokens=8)))
    nucleus = _texts(tiny_engine.generate(PROMPTS, GenerationParams(temperature=1.0, top_p=1e-6, seed=3, max_tokens=8)))
    assert nucleus == greedy


def test_counts_and_length_finish(tiny_engine):
    [[c]] = tiny_engine.generate(PROMPTS[:1], GenerationParams(max_tokens=5))
    assert c.prompt_tokens == tiny_engine.count_tokens(PROMPTS[0])
    assert c.completion_tokens == 5 and c.finish_reason == "length"
    assert tiny_engine.count_tokens(c.text) <= 6


def test_stop_strings_cut_and_finish_stop(tiny_engine):
    [[full]] = tiny_engine.generate(PROMPTS[:1], GenerationParams(max_tokens=16))
    stop = full.text[len(full.text) // 2 : len(full.text) // 2 + 3]
    assert len(stop) == 3 and full.text.find(stop) > 0
    [[cut]] = tiny_engine.generate(PROMPTS[:1], GenerationParams(max_tokens=16, stop=(stop,)))
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.finish_reason == "stop" and cut.completion_tokens < 16
    params = GenerationParams(max_tokens=10, constraint=RegexConstraint(r"ab;cd"), stop=(";",))
    assert [c[0].text for c in tiny_engine.generate(PROMPTS[:2], params)] == ["ab", "ab"]


def test_regex_constraint_with_prefix_batches_and_n(tiny_engine):
    params = GenerationParams(max_tokens=12, constraint=RegexConstraint(r" (yes|no)"), prefix="Answer:")
    for [c] in tiny_engine.generate(PROMPTS, params):
        assert c.text in ("Answer: yes", "Answer: no") and c.finish_reason == "stop"
    sampled = tiny_engine.generate(PROMPTS[:2], params.replace(n=3, temperature=1.5, seed=2))
    assert all(c.text in ("Answer: yes", "Answer: no") for s in sampled for c in s)


def test_selection_constraint_on_random_model(tiny_engine):
    from setsel.prompts import parse_selection

    con = SelectionConstraint(num_candidates=12, max_passages=3)
    outs = tiny_engine.generate(PROMPTS, GenerationParams(n=2, temperature=1.0, seed=5, max_tokens=30, constraint=con))
    for samples in outs:
        for c in samples:
            parsed = parse_selection(c.text, 12)
            assert parsed.status in ("ok", "repaired") and 1 <= len(parsed.ids) <= 3, c.text
            assert all(1 <= i <= 12 for i in parsed.ids)


def test_compiled_grammars_are_cached(tiny_engine):
    from setsel.engines.constraints import compile_constraint

    a = compile_constraint(tiny_engine.tokenizer, tiny_engine.vocab_size, SelectionConstraint(5, 2))
    b = compile_constraint(tiny_engine.tokenizer, tiny_engine.vocab_size, RegexConstraint(SelectionConstraint(5, 2).to_regex()))
    assert a is b


def test_context_length_error(tiny_model_dir):
    eng = load_engine(f"hf:{tiny_model_dir}", max_context=64)
    long = [{"role": "user", "content": "word " * 200}]
    n = eng.count_tokens(long)
    with pytest.raises(ContextLengthError, match=f"prompt 1: {n} prompt tokens \\+ 5 to generate exceed the context of 64"):
        eng.generate([PROMPTS[1], long], GenerationParams(max_tokens=5))
    with pytest.raises(ContextLengthError):
        eng.score([long], ["x"])
    eng.close()
    with pytest.raises(EngineError, match="closed"):
        eng.generate([PROMPTS[1]], GenerationParams(max_tokens=2))


@pytest.mark.parametrize(
    "prompts",
    ["hello", [{"role": "user", "content": "x"}], [[{"role": "robot", "content": "x"}]], [[]], [[{"role": "user"}]]],
)
def test_bad_prompts_are_clear_errors(tiny_engine, prompts):
    with pytest.raises(ValueError, match="prompt"):
        tiny_engine.generate(prompts, GenerationParams(max_tokens=2))


def test_bad_score_and_options(tiny_engine, tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="2 prompts but 1 continuations"):
        tiny_engine.score(PROMPTS[:2], ["x"])
    with pytest.raises(ValueError, match="batch_size"):
        load_engine(f"hf:{tiny_model_dir}", batch_size=0)
    with pytest.raises(EngineError, match="adapter_config.json"):
        load_engine(f"hf:{tiny_model_dir}", adapter=str(tmp_path))
    assert tiny_engine.generate([], GenerationParams()) == []


def test_lora_adapter_loads_and_changes_scores(tiny_engine, tiny_model_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    peft_model = get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    torch.manual_seed(1)
    peft_model.save_pretrained(tmp_path / "adapter")
    eng = load_engine(f"hf:{tiny_model_dir}", adapter=str(tmp_path / "adapter"))
    with_adapter = eng.score(PROMPTS[:1], ["Some reply."])[0].token_logprobs
    without = tiny_engine.score(PROMPTS[:1], ["Some reply."])[0].token_logprobs
    assert "+" in eng.model_id and len(with_adapter) == len(without)
    assert max(abs(a - b) for a, b in zip(with_adapter, without)) > 1e-4
