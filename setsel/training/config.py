"""The training job's config (``configs/train_*.yaml``; ``--set a.b=v`` overrides).

Defaults follow DESIGN §8 / OptiSet §4.1: LoRA r=128, α=32, dropout 0.05 on all linear
projections, lr 3e-5, one epoch, λ = 0.1, the set-list-wise loss.

Example:
    cfg = load_train_config("configs/train_setlist.yaml", ["optim.lr=1e-4", "ray.num_actors=2"])

Ray settings have the one shape of every stage (``ray:``, :class:`setsel.config.RayConfig`):
``ray.enabled`` (default on: Ray Train; off = train in this process, ``setsel train --local``),
``ray.address``, ``ray.num_actors`` (Ray Train workers), ``ray.num_cpus_per_actor`` and
``ray.num_gpus_per_actor`` (> 0: the workers train on GPUs). ``scaling:`` keeps only what is
Ray Train's own: the strategy (DDP or DeepSpeed), its config file and the threads per worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from setsel.config import ConfigError, RayConfig, load_config

#: The training keys of before the one RayConfig shape (issue 20) → their ``ray:`` spelling.
MOVED_KEYS = {"scaling.num_workers": "ray.num_actors", "scaling.use_gpu": "ray.num_gpus_per_actor",
              "scaling.cpus_per_worker": "ray.num_cpus_per_actor"}


@dataclass
class LoraSettings:
    """peft LoRA. ``target_modules: [all-linear]`` = every linear projection except the LM head."""

    enabled: bool = True
    r: int = 128
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])


@dataclass
class DataSettings:
    """Where the TrainExample file is and how examples become sequences."""

    train: str = ""
    template: str = "optiset_train"
    target: Literal["selection", "teacher"] = "selection"
    max_length: int = 2048
    max_sets: int | None = 5
    padding_side: Literal["left", "right"] = "left"
    max_words: int | None = 300
    shuffle: bool = True
    limit: int | None = None
    max_copies: int | None = None  # keep permuted copies 0..N-1 of each question (metadata.copy)


@dataclass
class OptimSettings:
    """``batch_size`` is examples per worker per micro-batch; a step = ``grad_accum`` micro-batches."""

    lr: float = 3e-5
    epochs: int = 1
    batch_size: int = 1
    grad_accum: int = 8
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int | None = None
    gradient_checkpointing: bool = False


@dataclass
class ScalingSettings:
    """How Ray Train's workers train (how many and on what: ``ray:``, :class:`~setsel.config.RayConfig`)."""

    strategy: Literal["ddp", "deepspeed"] = "ddp"
    """``ddp`` (gloo on CPU, nccl on GPU) or ``deepspeed`` (ZeRO, ``deepspeed_config``)."""
    deepspeed_config: str = "configs/deepspeed/zero2.json"
    """DeepSpeed JSON (``"auto"`` fields filled in from ``optim``)."""
    threads_per_worker: int | None = None
    """torch CPU threads per worker (and in a local run); ``None`` = torch's default."""


def train_ray() -> RayConfig:
    """Training's Ray defaults: Ray Train on, one worker of one CPU."""
    return RayConfig(enabled=True, num_actors=1, num_cpus_per_actor=1.0)


@dataclass
class TrainConfig:
    """The whole training job. Paths are resolved against the current directory."""

    model: str = "hf:smollm2-135m"
    loss: Literal["sft", "dpo", "setlist"] = "setlist"
    lam: float = 0.1
    beta: float = 0.1
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    output_dir: str = "runs/train/setlist"
    run_name: str | None = None
    storage_path: str | None = None
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    resume: bool = True
    resume_from: str | None = None
    max_steps_this_run: int | None = None
    merge: bool = False
    logits_to_keep: bool = True
    data: DataSettings = field(default_factory=DataSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    optim: OptimSettings = field(default_factory=OptimSettings)
    scaling: ScalingSettings = field(default_factory=ScalingSettings)
    ray: RayConfig = field(default_factory=train_ray)

    @property
    def use_gpu(self) -> bool:
        """Whether the workers train on GPUs (``ray.num_gpus_per_actor > 0``)."""
        return self.ray.num_gpus_per_actor > 0

    def __post_init__(self) -> None:
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be ≥ 1, got {self.checkpoint_every}")
        if self.optim.batch_size < 1 or self.optim.grad_accum < 1 or self.optim.epochs < 1:
            raise ValueError("optim.batch_size, optim.grad_accum and optim.epochs must be ≥ 1")
        for name in ("limit", "max_copies"):
            if getattr(self.data, name) is not None and getattr(self.data, name) < 1:
                raise ValueError(f"data.{name} must be ≥ 1 or null, got {getattr(self.data, name)}")
        if self.max_steps_this_run is not None and self.max_steps_this_run < 1:
            raise ValueError(f"max_steps_this_run must be ≥ 1, got {self.max_steps_this_run}")
        if self.loss == "dpo" and not self.lora.enabled:
            raise ValueError("loss=dpo uses the adapter-free base as the reference model: keep lora.enabled=true")
        if self.loss in ("dpo", "setlist") and self.data.target == "teacher":
            raise ValueError(f"loss={self.loss} scores sets: data.target must be 'selection'")

    @property
    def resolved_precision(self) -> str:
        """``auto``: ``bf16`` on GPU and on CPUs with native bf16 (:func:`setsel.hardware.cpu_bf16_supported`),
        else ``fp32``. bf16 here means mixed precision: bf16 compute under autocast, trainable
        weights (LoRA adapters, or every weight without LoRA) and optimizer state in fp32."""
        if self.precision != "auto":
            return self.precision
        from setsel.hardware import cpu_bf16_supported

        return "bf16" if self.use_gpu or cpu_bf16_supported() else "fp32"

    def resolved(self) -> "TrainConfig":
        """A copy with absolute paths and a run name (what the workers receive)."""
        import dataclasses

        out = Path(self.output_dir).expanduser().resolve()
        storage = Path(self.storage_path).expanduser().resolve() if self.storage_path else out / "ray"
        ds = Path(self.scaling.deepspeed_config)
        if not ds.is_absolute():
            from setsel.paths import REPO_ROOT

            ds = (Path.cwd() / ds) if (Path.cwd() / ds).is_file() else REPO_ROOT / ds
        data = dataclasses.replace(self.data, train=str(Path(self.data.train).expanduser().resolve()) if self.data.train else "")
        scaling = dataclasses.replace(self.scaling, deepspeed_config=str(ds))
        return dataclasses.replace(
            self,
            output_dir=str(out),
            storage_path=str(storage),
            run_name=self.run_name or out.name,
            resume_from=str(Path(self.resume_from).expanduser().resolve()) if self.resume_from else None,
            data=data,
            scaling=scaling,
        )


def load_train_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Load and validate a training config (:class:`~setsel.config.ConfigError` on problems)."""
    try:
        cfg = load_config(TrainConfig, path, overrides)
    except ConfigError as exc:
        for old, new in MOVED_KEYS.items():
            if f"unknown config key {old}" in str(exc) or f"'{old.split('.')[1]}'" in str(exc):
                raise ConfigError(f"{exc}. {old} is now {new} (training's Ray settings are the one "
                                  f"`ray:` shape of every stage)") from None
        raise
    if not cfg.data.train:
        raise ConfigError("data.train is required: the TrainExample file (.jsonl or .parquet)")
    return cfg
