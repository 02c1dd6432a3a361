"""The training loop in one process (LocalSession, no Ray): SetR-style SFT on teacher output,
checkpoint/resume, and the step plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from setsel.training.trainer import StepPlan


def test_step_plan_splits_steps_across_workers_and_micro_batches():
    plan = StepPlan(n_examples=10, world=2, batch=1, accum=2, epochs=2, seed=0, shuffle=False)
    assert (plan.steps_per_epoch, plan.total_steps) == (2, 4)  # 10 // 4 = 2 steps/epoch; 2 left over
    assert plan.micro_batches(0, rank=0) == [[0], [2]] and plan.micro_batches(0, rank=1) == [[1], [3]]
    assert plan.micro_batches(1, rank=0) == [[4], [6]] and plan.micro_batches(2, rank=1) == [[1], [3]]
    shuffled = StepPlan(10, 1, 2, 1, 2, seed=3)
    seen = sorted(i for s in range(5) for mb in shuffled.micro_batches(s, 0) for i in mb)
    assert seen == list(range(10))  # one epoch = every example exactly once
    assert shuffled.micro_batches(0, 0) != shuffled.micro_batches(5, 0)  # a new order per epoch
    assert StepPlan(10, 1, 1, 1, 3, 0, max_steps=7).total_steps == 7
    with pytest.raises(ValueError, match="cannot fill one step"):
        StepPlan(3, 2, 1, 2, 1, 0)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_local_sft_on_teacher_output_stops_and_resumes(tiny_llama_dir, gold_examples, tmp_path):
    import dataclasses

    from setsel.io import write_records
    from setsel.training.config import load_train_config
    from setsel.training.trainer import LocalSession, train_worker

    teacher = [dataclasses.replace(e, teacher_output="Step 1. Two facts are needed.\n### Final Selection: "
                                   + " ".join(f"[{i}]" for i in e.sets[0])) for e in gold_examples[:6]]
    data = write_records(tmp_path / "teacher.jsonl", teacher)
    overrides = [f"model={tiny_llama_dir}", f"data.train={data}", f"output_dir={tmp_path / 'out'}", "loss=sft",
                 "data.target=teacher", "data.template=setr_iri", "data.max_length=512", "lora.r=4", "lora.alpha=8",
                 "optim.lr=0.01", "optim.grad_accum=2", "checkpoint_every=1", "ray.num_actors=1"]
    cfg = load_train_config(None, overrides + ["max_steps_this_run=2"]).resolved()
    first = train_worker(cfg, LocalSession(cfg))
    assert first == {"start_step": 0, "end_step": 2, "total_steps": 3, "finished": False}
    cfg = load_train_config(None, overrides).resolved()
    session = LocalSession(cfg)
    second = train_worker(cfg, session)
    assert second == {"start_step": 2, "end_step": 3, "total_steps": 3, "finished": True}
    rows = [json.loads(r) for r in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)
    # keep_checkpoints=2: steps 2 and 3 remain; the last holds the HF adapter
    kept = sorted(p.name for p in (tmp_path / "out" / "checkpoints").iterdir())
    assert kept == ["step_00000002", "step_00000003"]
    last = tmp_path / "out" / "checkpoints" / "step_00000003"
    assert json.loads((last / "trainer_state.json").read_text())["step"] == 3
    assert (last / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.timeout(180)
def test_logged_statistics_average_every_micro_batch(tiny_llama_dir, gold_examples, tmp_path):
    """With one set per example the KL term is 0, so the logged loss equals the logged CE —
    only if the CE is averaged over all micro-batches of the step, not taken from the last."""
    import dataclasses

    from setsel.io import write_records
    from setsel.training.config import load_train_config
    from setsel.training.trainer import LocalSession, train_worker

    single = [dataclasses.replace(e, sets=e.sets[:1], P=e.P[:1]) for e in gold_examples[:4]]
    data = write_records(tmp_path / "single.jsonl", single)
    cfg = load_train_config(None, [f"model={tiny_llama_dir}", f"data.train={data}", f"output_dir={tmp_path / 'out'}",
                                   "loss=setlist", "data.max_length=512", "data.shuffle=false", "lora.r=4",
                                   "lora.alpha=8", "optim.lr=0.01", "optim.grad_accum=2", "checkpoint_every=10",
                                   "ray.num_actors=1"]).resolved()
    assert train_worker(cfg, LocalSession(cfg))["end_step"] == 2
    rows = [json.loads(r) for r in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and 0 < rows[0]["elapsed_s"] <= rows[1]["elapsed_s"]
    for r in rows:
        assert r["ce"] == pytest.approx(r["loss"], rel=1e-6)


@pytest.mark.timeout(300)
def test_setsel_train_local_runs_in_process_resumes_and_publishes(tiny_llama_dir, gold_examples, tmp_path):
    """``setsel train --local``: no Ray; stopped after 1 step and rerun, it resumes at step 1
    (one metrics row per step, none repeated) and publishes the adapter, curve and summary."""
    import subprocess
    import sys

    from setsel.io import write_records

    data = write_records(tmp_path / "train.jsonl", gold_examples[:4])
    out = tmp_path / "out"
    base = [sys.executable, "-m", "setsel", "train", "--local", "--config", "configs/train_sft.yaml",
            "--set", f"model={tiny_llama_dir}", "--set", f"data.train={data}", "--set", f"output_dir={out}",
            "--set", "data.max_length=512", "--set", "lora.r=4", "--set", "lora.alpha=8", "--set", "optim.grad_accum=2",
            "--set", "optim.batch_size=1", "--set", "optim.epochs=1", "--set", "checkpoint_every=1",
            "--set", "ray.num_actors=1", "--set", "scaling.strategy=ddp", "--set", "precision=fp32"]
    repo = Path(__file__).resolve().parents[2]
    first = subprocess.run(base + ["--set", "max_steps_this_run=1"], cwd=repo, capture_output=True, text=True,
                           timeout=240)
    assert first.returncode == 0, first.stderr[-2000:]
    assert '"finished": false' in first.stdout
    again = subprocess.run(base, cwd=repo, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-2000:]
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["finished"] and summary["step"] == summary["total_steps"] == 2
    assert (out / "adapter" / "adapter_model.safetensors").is_file() and (out / "train_loss.png").is_file()
