"""Ray Train wiring for selector training: ``TorchTrainer`` + checkpoints + export.

:func:`run_training` starts (or joins) Ray, runs :func:`setsel.training.trainer.train_worker`
on ``ray.num_actors`` workers (``ScalingConfig(num_workers, use_gpu)``; gloo on CPU,
nccl on GPU), then copies the final adapter to ``<output_dir>/adapter`` (and merges it into
``<output_dir>/merged`` when ``merge: true``).

Checkpoints go through ``ray.train.report(metrics, checkpoint=...)`` every
``checkpoint_every`` steps and at the end; Ray keeps the newest ``keep_checkpoints``. A run
is identified by ``RunConfig(name=run_name, storage_path=storage_path)``: starting the same
run again resumes from its latest checkpoint (Ray Train V2 reloads the run's checkpoint
snapshot and ``ray.train.get_checkpoint()`` returns it); ``resume: false`` refuses to reuse
a run folder; ``resume_from: <checkpoint dir>`` starts a new run from a given checkpoint.

Example:
    result = run_training(load_train_config("configs/train_tiny_cpu.yaml"))
    result["adapter"]   # '<output_dir>/adapter'
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from setsel.config import ConfigError
from setsel.distributed.runtime import init_ray
from setsel.training.config import TrainConfig
from setsel.training.run import finish_run

WORKER_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM", "TORCH_EXTENSIONS_DIR",
              "SETSEL_CACHE_DIR", "SETSEL_DATA_DIR", "DS_ACCELERATOR")


class RaySession:
    """The :class:`setsel.training.trainer.Session` of a Ray Train worker."""

    def __init__(self) -> None:
        import ray.train
        import torch

        ctx = ray.train.get_context()
        self.world_rank, self.world_size = ctx.get_world_rank(), ctx.get_world_size()
        if torch.cuda.is_available():
            import ray.train.torch

            self.device = str(ray.train.torch.get_device())
        else:
            self.device = "cpu"

    def restore(self, load):
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            return load(Path(folder))

    def report(self, metrics, checkpoint_dir):
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)


def _train_loop(config: dict[str, Any]) -> None:
    """Ray Train's ``train_loop_per_worker``: rebuild the config, run the shared loop."""
    import torch

    from setsel.training.trainer import train_worker

    cfg: TrainConfig = config["cfg"]
    if cfg.scaling.threads_per_worker:
        torch.set_num_threads(cfg.scaling.threads_per_worker)
    train_worker(cfg, RaySession())


def _run_exists(cfg: TrainConfig) -> bool:
    return (Path(cfg.storage_path) / str(cfg.run_name)).is_dir()


def build_trainer(cfg: TrainConfig):
    """The ``TorchTrainer`` for an already :meth:`~TrainConfig.resolved` config."""
    from ray.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
    threads = cfg.scaling.threads_per_worker
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    resources = {"CPU": cfg.ray.num_cpus_per_actor}
    if cfg.use_gpu:
        resources["GPU"] = cfg.ray.num_gpus_per_actor
    return TorchTrainer(
        _train_loop,
        train_loop_config={"cfg": cfg},
        torch_config=TorchConfig(backend="nccl" if cfg.use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=cfg.ray.num_actors, use_gpu=cfg.use_gpu,
                                     resources_per_worker=resources),
        run_config=RunConfig(
            name=cfg.run_name,
            storage_path=cfg.storage_path,
            checkpoint_config=CheckpointConfig(num_to_keep=cfg.keep_checkpoints),
            failure_config=FailureConfig(max_failures=0),
            worker_runtime_env={"env_vars": env} if env else None,
        ),
        resume_from_checkpoint=Checkpoint(cfg.resume_from) if cfg.resume_from else None,
    )


def run_training(cfg: TrainConfig, address: str | None = None) -> dict[str, Any]:
    """Train with Ray Train; return a summary (paths, steps, fit seconds).

    Keys: ``adapter`` (folder), ``merged`` (folder or None), ``checkpoint`` (the latest
    Ray checkpoint folder), ``step``, ``total_steps``, ``finished``, ``metrics`` (the last
    reported row), ``curve`` (``<output_dir>/train_loss.png``, loss per step), ``fit_seconds``.
    """
    cfg = cfg.resolved()
    if not cfg.resume and _run_exists(cfg):
        raise ConfigError(f"run folder {Path(cfg.storage_path) / str(cfg.run_name)} exists and resume=false: "
                          "choose another run_name/output_dir or set resume=true")
    init_ray(address if address is not None else cfg.ray.address)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = build_trainer(cfg).fit()
    fit_seconds = time.perf_counter() - t0
    if result.error is not None:
        raise result.error
    if result.checkpoint is None:
        raise RuntimeError("training reported no checkpoint")
    with result.checkpoint.as_directory() as folder:
        summary = finish_run(cfg, Path(folder), fit_seconds)
    return summary
