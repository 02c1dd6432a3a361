"""The training entry points and config validation (fast: no training)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from setsel.config import ConfigError
from setsel.training.config import load_train_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_jobs_train_entry_point_reads_every_config():
    for name in ("setlist", "sft", "dpo", "tiny_cpu"):
        proc = subprocess.run([sys.executable, "-m", "jobs.train", "--config", f"configs/train_{name}.yaml",
                               "--set", "optim.lr=0.0001", "--print-config"], capture_output=True, text=True,
                              timeout=60, cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        cfg = json.loads(proc.stdout)
        assert cfg["optim"]["lr"] == 0.0001 and Path(cfg["output_dir"]).is_absolute()
        assert Path(cfg["scaling"]["deepspeed_config"]).is_file()
    bad = subprocess.run([sys.executable, "-m", "jobs.train", "--config", "configs/train_setlist.yaml",
                          "--set", "optim.lrr=1", "--print-config"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert bad.returncode == 2 and "optim.lrr" in bad.stderr


def test_config_defaults_follow_the_design():
    cfg = load_train_config(REPO / "configs" / "train_setlist.yaml")
    assert (cfg.loss, cfg.lam, cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.optim.lr, cfg.optim.epochs) == (
        "setlist", 0.1, 128, 32, 0.05, 3e-5, 1)
    assert cfg.lora.target_modules == ["all-linear"] and cfg.data.template == "optiset_train"
    from setsel.hardware import cpu_bf16_supported

    # precision: auto — bf16 mixed precision where the CPU has bf16 instructions, fp32 elsewhere
    assert cfg.precision == "auto" and cfg.resolved_precision == ("bf16" if cpu_bf16_supported() else "fp32")
    assert load_train_config(REPO / "configs" / "train_setlist.yaml", ["precision=fp32"]).resolved_precision == "fp32"
    assert load_train_config(REPO / "configs" / "train_setlist.yaml", ["ray.num_gpus_per_actor=1"]).resolved_precision == "bf16"
    assert load_train_config(REPO / "configs" / "train_dpo.yaml").loss == "dpo"
    assert load_train_config(REPO / "configs" / "train_sft.yaml").loss == "sft"


def test_config_rejects_inconsistent_settings():
    with pytest.raises(ConfigError, match="lora.enabled"):
        load_train_config(REPO / "configs" / "train_dpo.yaml", ["lora.enabled=false"])
    with pytest.raises(ConfigError, match="target must be 'selection'"):
        load_train_config(REPO / "configs" / "train_setlist.yaml", ["data.target=teacher"])
    with pytest.raises(ConfigError, match="data.train is required"):
        load_train_config(None, [])
    with pytest.raises(ConfigError, match="loss"):
        load_train_config(REPO / "configs" / "train_setlist.yaml", ["loss=ranknet"])
    with pytest.raises(ConfigError, match="data.max_copies must be ≥ 1"):
        load_train_config(REPO / "configs" / "train_setlist.yaml", ["data.max_copies=0"])


def test_training_ray_settings_are_the_one_ray_shape(tmp_path):
    """Training reads the same ``ray:`` block as every stage (issue 20): workers, CPUs, GPUs and the
    local-or-Ray switch; the old ``scaling.*`` keys fail with their new spelling named."""
    from setsel.config import RayConfig

    cfg = load_train_config(REPO / "configs" / "train_tiny_cpu.yaml")
    assert isinstance(cfg.ray, RayConfig) and cfg.ray.enabled
    assert (cfg.ray.num_actors, cfg.ray.num_cpus_per_actor, cfg.use_gpu, cfg.scaling.strategy) == (2, 1, False, "deepspeed")
    paper = load_train_config(REPO / "configs" / "train_paper.yaml")
    assert (paper.ray.num_actors, paper.ray.num_gpus_per_actor, paper.use_gpu) == (8, 1, True)
    assert not load_train_config(REPO / "configs" / "train_setlist.yaml", ["ray.enabled=false"]).ray.enabled
    for old, new in (("scaling.num_workers=2", "ray.num_actors"), ("scaling.use_gpu=true", "ray.num_gpus_per_actor"),
                     ("scaling.cpus_per_worker=2", "ray.num_cpus_per_actor")):
        with pytest.raises(ConfigError, match=new.replace(".", r"\.")):
            load_train_config(REPO / "configs" / "train_setlist.yaml", [old])
    # --local is the shortcut for ray.enabled=false: a local run refuses Ray Train-only settings
    proc = subprocess.run([sys.executable, "-m", "jobs.train", "--config", "configs/train_tiny_cpu.yaml", "--local",
                           "--set", "data.train=/nonexistent.jsonl", "--set", f"output_dir={tmp_path}/out"],
                          capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 2 and "ray.num_actors=2" in proc.stderr and "ray.enabled=true" in proc.stderr
