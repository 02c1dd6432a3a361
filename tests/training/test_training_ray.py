"""Ray Train for real on 2 CPU workers: DeepSpeed ZeRO-2 (gloo), resume, DDP + DPO, adapters.

A tiny random Llama (hidden 64, 2 layers, SmolLM2's tokenizer) trains on gold-proxy
examples built from real HotpotQA training rows. One uninterrupted DeepSpeed run and one
run stopped after 3 of 4 steps then resumed must agree step for step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

TOTAL_STEPS = 4  # 16 examples / (2 workers × batch 1 × accum 2)
TINY_CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "train_tiny_cpu.yaml")


def _cfg(model_dir, train_file, out, *extra):
    from setsel.training.config import load_train_config

    return load_train_config(TINY_CONFIG, _overrides(model_dir, train_file, out, *extra))


def _steps(out: Path) -> list[dict]:
    return [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines() if r.strip()]


def _overrides(model_dir, train_file, out, *extra):
    return [f"model={model_dir}", f"data.train={train_file}", f"output_dir={out}", "optim.max_steps=null",
            "lora.r=4", "lora.alpha=8", "data.max_length=512", *extra]


@pytest.fixture(scope="module")
def deepspeed_runs(ray_local, tiny_llama_dir, gold_train_file, tmp_path_factory):
    """(uninterrupted summary, [stopped summary, resumed summary], their output folders).

    The resumed half runs through the ``setsel train`` command line (same config file).
    """
    from setsel.cli import main
    from setsel.distributed.train import run_training

    root = tmp_path_factory.mktemp("ds")
    full = run_training(_cfg(tiny_llama_dir, gold_train_file, root / "full"))
    stopped = run_training(_cfg(tiny_llama_dir, gold_train_file, root / "resumed", "max_steps_this_run=3"))
    argv = ["train", "--config", TINY_CONFIG]
    for item in _overrides(tiny_llama_dir, gold_train_file, root / "resumed"):
        argv += ["--set", item]
    assert main(argv) == 0
    resumed = json.loads((root / "resumed" / "train_summary.json").read_text())
    return full, [stopped, resumed], root / "full", root / "resumed"


@pytest.mark.timeout(600)
def test_deepspeed_zero2_two_workers_trains_and_saves_an_adapter(deepspeed_runs):
    full, _, out, _ = deepspeed_runs
    print(f"DeepSpeed ZeRO-2, 2 CPU workers, tiny Llama, {TOTAL_STEPS} steps: fit {full['fit_seconds']} s")
    assert full["finished"] and full["step"] == full["total_steps"] == TOTAL_STEPS
    rows = _steps(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(r["loss"])) and r["loss"] > 0 for r in rows)
    assert rows[0]["lr"] > rows[-1]["lr"] == 0.0  # linear decay reaches 0 at the last step
    adapter = Path(full["adapter"])
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8
    wrapped = {name.rsplit(".", 1)[-1] for name in cfg["target_modules"]}  # all linear projections, no lm_head
    assert wrapped == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert (adapter / "adapter_model.safetensors").is_file()
    ckpt = Path(full["checkpoint"])  # every rank's ZeRO shard merged into one Ray checkpoint
    assert sorted(p.name for p in (ckpt / "deepspeed" / "state").glob("zero_pp_rank_*")) == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"]


@pytest.mark.timeout(60)
def test_resume_continues_the_step_count_and_matches_the_uninterrupted_run(deepspeed_runs):
    full, (stopped, resumed), full_out, res_out = deepspeed_runs
    assert stopped["step"] == 3 and not stopped["finished"]
    assert resumed["step"] == TOTAL_STEPS and resumed["finished"] and resumed["total_steps"] == full["total_steps"]
    rows = _steps(res_out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # no step done twice, none skipped
    for a, b in zip(_steps(full_out), rows):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5), a["step"]
    from safetensors.torch import load_file

    wa = load_file(str(Path(full["adapter"]) / "adapter_model.safetensors"))
    wb = load_file(str(Path(resumed["adapter"]) / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=1e-6, rtol=1e-5, msg=k)


def _logits(model, tok, text):
    ids = tok(text, return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits[0]


@pytest.mark.timeout(120)
def test_adapter_loads_back_changes_outputs_and_merges(deepspeed_runs, tiny_llama_dir, smol_tokenizer, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from setsel.engines import load_engine
    from setsel.training.model import merge_adapter

    adapter = deepspeed_runs[0]["adapter"]
    text = smol_tokenizer.apply_chat_template([{"role": "user", "content": "Which passages?"}], tokenize=False,
                                              add_generation_prompt=True) + "### Final Selection: [1]"
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama_dir)).eval()
    base_logits = _logits(base, smol_tokenizer, text)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_llama_dir)), adapter).eval()
    tuned_logits = _logits(tuned, smol_tokenizer, text)
    assert float((tuned_logits - base_logits).abs().max()) > 1e-3
    merged = AutoModelForCausalLM.from_pretrained(str(merge_adapter(str(tiny_llama_dir), adapter, tmp_path / "m"))).eval()
    torch.testing.assert_close(_logits(merged, smol_tokenizer, text), tuned_logits, atol=1e-4, rtol=1e-4)
    # the hf engine loads the adapter on top of the base and scores differently
    prompt = [{"role": "user", "content": "Which passages?"}]
    plain = load_engine(f"hf:{tiny_llama_dir}").score([prompt], ["### Final Selection: [1]"])[0]
    with_adapter = load_engine(f"hf:{tiny_llama_dir}", adapter=adapter).score([prompt], ["### Final Selection: [1]"])[0]
    assert abs(plain.sum_logprob - with_adapter.sum_logprob) > 1e-3


@pytest.mark.timeout(300)
def test_ddp_two_workers_dpo(ray_local, tiny_llama_dir, gold_train_file, tmp_path):
    from setsel.distributed.train import run_training

    out = tmp_path / "dpo"
    summary = run_training(_cfg(tiny_llama_dir, gold_train_file, out, "loss=dpo", "scaling.strategy=ddp",
                                "optim.max_steps=2", "checkpoint_every=1"))
    assert summary["finished"] and summary["step"] == 2
    rows = _steps(out)
    assert [r["step"] for r in rows] == [1, 2]
    # LoRA's B starts at zero, so at step 1 the policy IS the reference: margin 0, loss = −log σ(0) = ln 2
    assert rows[0]["loss"] == pytest.approx(0.6931472, abs=1e-5) and rows[0]["reward_margin"] == 0.0
    assert rows[1]["reward_margin"] != 0.0
    assert (Path(summary["adapter"]) / "adapter_model.safetensors").is_file()
