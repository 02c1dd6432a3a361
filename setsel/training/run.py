"""Finishing a training run, and running one in this process (no Ray).

:func:`finish_run` is what every runner does once training has stopped: copy the latest
checkpoint's adapter to ``<output_dir>/adapter``, merge it when ``merge: true`` and the run has
finished, plot ``train_loss.png`` from ``metrics.jsonl`` and write ``train_summary.json``.
:func:`run_local` trains in the calling process through
:class:`~setsel.training.trainer.LocalSession` (one worker, checkpoints under
``<output_dir>/checkpoints``; rerun to resume) — ``setsel train --local``, the fast path on a
single CPU machine, where Ray Train's worker process costs time for nothing
(:func:`setsel.distributed.train.run_training` is the Ray Train runner).

Example:
    >>> from setsel.training.config import load_train_config
    >>> cfg = load_train_config("configs/train_gold_judgements.yaml")   # doctest: +SKIP
    >>> run_local(cfg)["finished"]                                       # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from setsel.config import ConfigError
from setsel.training.config import TrainConfig


def finish_run(cfg: TrainConfig, checkpoint: Path, fit_seconds: float) -> dict[str, Any]:
    """Publish the adapter of ``checkpoint`` and summarise the run (see the module docstring).

    Returns the summary: ``adapter``, ``merged`` (folder or None), ``checkpoint``, ``step``,
    ``total_steps``, ``finished``, ``metrics`` (last row), ``curve`` (PNG or None), ``fit_seconds``.
    """
    out = Path(cfg.output_dir)
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    adapter = out / "adapter"
    shutil.rmtree(adapter, ignore_errors=True)
    shutil.copytree(checkpoint / "adapter", adapter)
    finished = state["step"] >= state["total_steps"]
    merged = None
    if cfg.merge and finished and cfg.lora.enabled:
        from setsel.training.model import merge_adapter

        merged = str(merge_adapter(cfg.model, adapter, out / "merged"))
    from setsel.training.curves import LOSS_LABEL, plot_curves, read_metrics

    rows = read_metrics(out / "metrics.jsonl")
    plot = plot_curves({f"{cfg.loss} ({LOSS_LABEL[cfg.loss]})": rows}, out / "train_loss.png")
    summary = {"adapter": str(adapter), "merged": merged, "checkpoint": str(checkpoint), "step": state["step"],
               "total_steps": state["total_steps"], "finished": finished, "metrics": rows[-1] if rows else {},
               "curve": str(plot) if plot else None, "fit_seconds": round(fit_seconds, 2)}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return summary


def run_local(cfg: TrainConfig) -> dict[str, Any]:
    """Train in this process (one worker, CPU or one GPU) and finish the run; rerun to resume.

    Raises:
        ConfigError: more than one worker, or DeepSpeed (both need the Ray Train runner).
    """
    import torch

    from setsel.training.trainer import LocalSession, train_worker

    cfg = cfg.resolved()
    if cfg.ray.num_actors != 1 or cfg.scaling.strategy == "deepspeed":
        raise ConfigError(f"a local run is one worker without DeepSpeed (ray.num_actors="
                          f"{cfg.ray.num_actors}, scaling.strategy={cfg.scaling.strategy}): use Ray Train "
                          "(ray.enabled=true, no --local)")
    if cfg.scaling.threads_per_worker:
        torch.set_num_threads(cfg.scaling.threads_per_worker)
    Path(cfg.output_dir).mkdir(parents=True, exist_ok=True)
    session = LocalSession(cfg)
    t0 = time.perf_counter()
    train_worker(cfg, session)
    fit_seconds = time.perf_counter() - t0
    found = sorted(session.root.glob("step_*"))
    if not found:
        raise RuntimeError("training wrote no checkpoint")
    return finish_run(cfg, found[-1], fit_seconds)
