"""The training loop, independent of how workers are started (Ray Train or one process).

:func:`train_worker` runs on every worker. The launcher passes a :class:`Session` that says
the worker's rank, restores the latest checkpoint and reports metrics/checkpoints
(:class:`setsel.distributed.train.RaySession` under Ray Train; :class:`LocalSession` for a
single process). Backends: plain PyTorch (one process, or DDP when a process group is up —
gloo on CPU) and DeepSpeed ZeRO (config from ``configs/deepspeed/``; "auto" fields filled
from the job config; ``torch.optim.AdamW`` as a client optimizer so nothing is compiled).

Step accounting (what makes resuming exact): a step consumes ``world × batch × accum``
examples from a per-epoch permutation seeded by (seed, epoch); step k always sees the same
examples, so a resumed run continues at step k+1 and does no step twice. Loss scale: each
micro-batch contributes ``Σ per-example loss / (batch × accum)`` (DeepSpeed: ``/ batch``, it
divides by accum itself); workers' gradients are averaged — the step's gradient is the
mean over all its examples (see :mod:`setsel.training.losses`).

Checkpoint folder: ``trainer_state.json`` (step), ``adapter/`` (HF, for export), per-rank
``rng_rank{r}.pt``, and either ``trainable.pt`` + ``optimizer.pt`` + ``scheduler.pt`` (plain)
or ``deepspeed/`` (every rank's ZeRO shard). Rank 0 appends one JSON line per step to
``<output_dir>/metrics.jsonl`` (step, loss, lr, grad_norm, elapsed_s since this run started,
and the loss's statistics: ``ce`` for setlist, ``reward_margin`` for dpo).

Example:
    summary = train_worker(cfg.resolved(), LocalSession(cfg.resolved()))
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Protocol

from setsel.training.config import TrainConfig


class Session(Protocol):
    world_rank: int
    world_size: int
    device: str

    def restore(self, load: Callable[[Path], Any]) -> Any:
        """``load(folder)`` of the latest checkpoint; ``None`` when there is none."""

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        """Record ``metrics`` (every worker calls it) with this worker's checkpoint files."""


class LocalSession:
    """One process, checkpoints under ``<output_dir>/checkpoints/step_XXXXXXXX``."""

    world_rank, world_size = 0, 1

    def __init__(self, cfg: TrainConfig):
        import torch

        self.device = "cuda" if cfg.use_gpu and torch.cuda.is_available() else "cpu"
        self.root = Path(cfg.output_dir) / "checkpoints"
        self.keep = cfg.keep_checkpoints
        self.resume_from = cfg.resume_from
        self.reports: list[dict[str, Any]] = []

    def restore(self, load):
        found = sorted(self.root.glob("step_*")) if self.root.is_dir() else []
        path = found[-1] if found else (Path(self.resume_from) if self.resume_from else None)
        return load(path) if path else None

    def report(self, metrics, checkpoint_dir):
        import shutil

        self.reports.append(dict(metrics))
        if checkpoint_dir is not None:
            dest = self.root / f"step_{int(metrics['step']):08d}"
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(checkpoint_dir, dest)
            for old in sorted(self.root.glob("step_*"))[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)


class StepPlan:
    """Which examples each (step, rank, micro-batch) uses."""

    def __init__(self, n_examples: int, world: int, batch: int, accum: int, epochs: int, seed: int,
                 shuffle: bool = True, max_steps: int | None = None):
        self.world, self.batch, self.accum, self.seed, self.shuffle, self.n = world, batch, accum, seed, shuffle, n_examples
        self.per_step = world * batch * accum
        self.steps_per_epoch = n_examples // self.per_step
        if self.steps_per_epoch == 0:
            raise ValueError(f"{n_examples} examples cannot fill one step of {self.per_step} "
                             f"(workers {world} × batch {batch} × accum {accum})")
        self.total_steps = self.steps_per_epoch * epochs
        if max_steps is not None:
            self.total_steps = min(self.total_steps, max_steps)

    def _order(self, epoch: int) -> list[int]:
        order = list(range(self.n))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order

    def micro_batches(self, step: int, rank: int) -> list[list[int]]:
        epoch, k = divmod(step, self.steps_per_epoch)
        order, base = self._order(epoch), k * self.per_step
        return [order[base + (a * self.world + rank) * self.batch:][: self.batch] for a in range(self.accum)]


def _scheduler(optimizer, total: int, warmup_ratio: float):
    import torch

    warm = int(math.ceil(total * warmup_ratio))

    def factor(step: int) -> float:  # linear warm-up, then linear decay to 0 at `total`
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _deepspeed_config(cfg: TrainConfig) -> dict[str, Any]:
    """The JSON of ``scaling.deepspeed_config`` with its ``"auto"`` fields filled in."""
    ds = json.loads(Path(cfg.scaling.deepspeed_config).read_text(encoding="utf-8"))
    fill = {
        "train_micro_batch_size_per_gpu": cfg.optim.batch_size,
        "gradient_accumulation_steps": cfg.optim.grad_accum,
        "train_batch_size": cfg.optim.batch_size * cfg.optim.grad_accum * cfg.ray.num_actors,
        "gradient_clipping": cfg.optim.max_grad_norm,
    }
    for key, value in fill.items():
        if ds.get(key, "auto") == "auto":
            ds[key] = value
    bf16 = ds.setdefault("bf16", {})
    if bf16.get("enabled", "auto") == "auto":
        bf16["enabled"] = cfg.resolved_precision == "bf16"
    ds.setdefault("zero_allow_untested_optimizer", True)
    return ds


class _Backend:
    """Plain PyTorch: one process or DDP (when a process group is initialised)."""

    def __init__(self, model, optimizer, scheduler, cfg: TrainConfig, session: Session):
        import torch

        self.cfg, self.optimizer, self.scheduler, self.session = cfg, optimizer, scheduler, session
        self.inner = model.to(session.device)
        self.model = model
        if session.world_size > 1 and torch.distributed.is_initialized():
            ids = [torch.device(session.device).index] if session.device.startswith("cuda") else None
            self.model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.params = [p for p in self.inner.parameters() if p.requires_grad]
        device_type = "cuda" if session.device.startswith("cuda") else "cpu"
        self.autocast = torch.autocast(device_type, dtype=torch.bfloat16) if cfg.resolved_precision == "bf16" else None

    def loss_scale(self) -> float:
        return 1.0 / (self.cfg.optim.batch_size * self.cfg.optim.grad_accum)

    def backward(self, loss, last: bool) -> None:
        sync = last or not hasattr(self.model, "no_sync")
        with nullcontext() if sync else self.model.no_sync():
            loss.backward()

    def step(self) -> float:
        import torch

        norm = torch.nn.utils.clip_grad_norm_(self.params, self.cfg.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def save(self, folder: Path) -> None:
        import torch

        from setsel.training.model import trainable_state

        if self.session.world_rank == 0:
            torch.save(trainable_state(self.inner), folder / "trainable.pt")
            torch.save(self.optimizer.state_dict(), folder / "optimizer.pt")
            torch.save(self.scheduler.state_dict(), folder / "scheduler.pt")
            self.inner.save_pretrained(str(folder / "adapter"), safe_serialization=True)

    def load(self, folder: Path) -> None:
        import torch

        from setsel.training.model import load_trainable_state

        load_trainable_state(self.inner, torch.load(folder / "trainable.pt", map_location=self.session.device))
        self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=self.session.device))
        self.scheduler.load_state_dict(torch.load(folder / "scheduler.pt"))


class _DeepSpeedBackend(_Backend):
    """DeepSpeed ZeRO-1/2/3 through ``deepspeed.initialize`` (gloo on CPU works for 1/2)."""

    def __init__(self, model, optimizer, scheduler, cfg: TrainConfig, session: Session):
        import deepspeed

        self.cfg, self.session = cfg, session
        self.ds_config = _deepspeed_config(cfg)
        self.stage = int(self.ds_config.get("zero_optimization", {}).get("stage", 0))
        self.model, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=self.ds_config)
        self.inner = self.model.module
        self.autocast = None

    def loss_scale(self) -> float:
        return 1.0 / self.cfg.optim.batch_size  # DeepSpeed divides by grad_accum itself

    def backward(self, loss, last: bool) -> None:
        self.model.backward(loss)
        self.model.step()  # applies the optimizer only at the accumulation boundary

    def step(self) -> float:
        norm = self.model.get_global_grad_norm()
        return float(norm) if norm is not None else float("nan")

    def save(self, folder: Path) -> None:
        self.model.save_checkpoint(str(folder / "deepspeed"), tag="state", exclude_frozen_parameters=True)
        if self.stage == 3:
            import deepspeed

            params = [p for p in self.inner.parameters() if p.requires_grad]
            with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                if self.session.world_rank == 0:
                    self.inner.save_pretrained(str(folder / "adapter"), safe_serialization=True)
        elif self.session.world_rank == 0:
            self.inner.save_pretrained(str(folder / "adapter"), safe_serialization=True)

    def load(self, folder: Path) -> None:
        path, _ = self.model.load_checkpoint(str(folder / "deepspeed"), tag="state", load_module_strict=False)
        if path is None:
            raise FileNotFoundError(f"no DeepSpeed checkpoint in {folder / 'deepspeed'}")


def _all_mean(value: float, count: int, session: Session) -> float:
    """Example-weighted mean of ``value`` over workers (for logging)."""
    import torch

    if session.world_size == 1 or not torch.distributed.is_initialized():
        return value
    t = torch.tensor([value * count, float(count)], dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return float(t[0] / t[1])


def _metrics_log(cfg: TrainConfig, start_step: int) -> Path:
    """``metrics.jsonl`` with rows after ``start_step`` dropped (they are about to be redone)."""
    from setsel.training.curves import truncate_metrics

    return truncate_metrics(Path(cfg.output_dir) / "metrics.jsonl", start_step)


def base_dtype(cfg: TrainConfig) -> str:
    """The dtype the base weights load in.

    bf16 precision: with LoRA the frozen base is stored in bf16 (half the memory, no per-step
    cast) while peft keeps the adapters in fp32; without LoRA the weights train, so they stay
    fp32 master weights and autocast computes in bf16. DeepSpeed manages bf16 itself.
    """
    if cfg.resolved_precision != "bf16":
        return "fp32"
    return "bf16" if cfg.scaling.strategy == "deepspeed" or cfg.lora.enabled else "fp32"


def train_worker(cfg: TrainConfig, session: Session) -> dict[str, Any]:
    """Train on this worker until the plan's last step (or ``max_steps_this_run`` steps).

    Returns a summary: ``start_step``, ``end_step``, ``total_steps``, ``finished``.
    """
    import torch

    from setsel.training.data import Collator, read_examples, select_examples
    from setsel.training.model import load_for_training
    from setsel.training.objective import SETS_FOR_LOSS, batch_losses

    torch.manual_seed(cfg.seed)
    rank, world = session.world_rank, session.world_size
    dtype = base_dtype(cfg)
    tok, model = load_for_training(cfg.model, cfg.lora, dtype=dtype,
                                   gradient_checkpointing=cfg.optim.gradient_checkpointing)
    sets = SETS_FOR_LOSS[cfg.loss]
    examples = select_examples(read_examples(cfg.data.train), sets, cfg.data.target, cfg.data.max_copies,
                               cfg.data.limit)
    collator = Collator(tok, cfg.data.template, cfg.data.max_length, sets=sets, target=cfg.data.target,
                        padding_side=cfg.data.padding_side, max_sets=cfg.data.max_sets, max_words=cfg.data.max_words)
    plan = StepPlan(len(examples), world, cfg.optim.batch_size, cfg.optim.grad_accum, cfg.optim.epochs, cfg.seed,
                    cfg.data.shuffle, cfg.optim.max_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    scheduler = _scheduler(optimizer, plan.total_steps, cfg.optim.warmup_ratio)
    cls = _DeepSpeedBackend if cfg.scaling.strategy == "deepspeed" else _Backend
    backend = cls(model, optimizer, scheduler, cfg, session)

    def load(folder: Path) -> int:
        backend.load(folder)
        rng = torch.load(folder / f"rng_rank{rank}.pt", weights_only=False)
        torch.set_rng_state(rng["torch"])
        random.setstate(rng["python"])
        return int(json.loads((folder / "trainer_state.json").read_text())["step"])

    start = session.restore(load) or 0
    log = _metrics_log(cfg, start) if rank == 0 else None
    stop_at = plan.total_steps if cfg.max_steps_this_run is None else min(plan.total_steps, start + cfg.max_steps_this_run)
    backend.inner.train()
    t0 = time.perf_counter()
    step = start
    while step < stop_at:
        loss_sum, n_ex, extra_sum = 0.0, 0, {}
        micro = plan.micro_batches(step, rank)
        for a, idx in enumerate(micro):
            batch = {k: v.to(session.device) for k, v in collator([examples[i] for i in idx]).items()}
            with backend.autocast or nullcontext():
                per, extra = batch_losses(backend.model, batch, cfg.loss, lam=cfg.lam, beta=cfg.beta,
                                          logits_to_keep=cfg.logits_to_keep)
            backend.backward(per.sum() * backend.loss_scale(), last=a == len(micro) - 1)
            loss_sum += float(per.detach().sum())
            n_ex += len(idx)
            for k, v in extra.items():  # batch means -> example-weighted over every micro-batch
                extra_sum[k] = extra_sum.get(k, 0.0) + v * len(idx)
        grad_norm = backend.step()
        step += 1
        metrics = {"step": step, "epoch": (step - 1) // plan.steps_per_epoch, "total_steps": plan.total_steps,
                   "loss": _all_mean(loss_sum / n_ex, n_ex, session), "lr": float(scheduler.get_last_lr()[0]),
                   "grad_norm": grad_norm, "elapsed_s": round(time.perf_counter() - t0, 2), **{k: _all_mean(v / n_ex, n_ex, session) for k, v in extra_sum.items()}}
        if log is not None:
            with log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(metrics) + "\n")
        if step % cfg.checkpoint_every == 0 or step == stop_at:
            with tempfile.TemporaryDirectory(prefix="setsel-ckpt-") as tmp:
                folder = Path(tmp)
                backend.save(folder)
                torch.save({"torch": torch.get_rng_state(), "python": random.getstate()}, folder / f"rng_rank{rank}.pt")
                if rank == 0:
                    (folder / "trainer_state.json").write_text(json.dumps({"step": step, "total_steps": plan.total_steps}))
                session.report(metrics, folder)
        else:
            session.report(metrics, None)
    return {"start_step": start, "end_step": step, "total_steps": plan.total_steps, "finished": step >= plan.total_steps}
