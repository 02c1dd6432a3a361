"""Train the ``llm_head`` selector on gold-labelled pools (SetR §3.3 distillation, gold teacher).

SetR distils a teacher's set selections into a small model. Here the teacher is each
training question's gold passages (the gold teacher of :mod:`setsel.synthesis.gold`, same
questions, same evaluation-question refusal, same no-gold rule: pools without a gold
passage are dropped) and the small model is SmolLM2 reading the whole pool once
(:mod:`setsel.selection.head_model`): LoRA on its top decoder layers plus a per-passage head,
trained with binary cross-entropy on "is this passage gold?" for every passage of the pool.

Against position bias every example shows its pool in a fresh seeded random order
(a new permutation per question per epoch), so the only signal left is the passages.

After training, the selection rule — a threshold on the logits and a floor of 1–3 passages —
that maximises mean set F1 on held-out training questions (``dev_fraction``, pools shown in a
seeded random order) is tuned (:func:`setsel.training.head_tune.tune`) and written with the model;
:func:`setsel.training.head_tune.retune` (``setsel train-head --retune FOLDER``) redoes only that
step for a finished model.

Resumable: the trainable weights, optimiser, scheduler and step are saved atomically every
``checkpoint_every`` steps to ``<out>/checkpoint.pt``; a rerun with the same config resumes
at the saved step over the same deterministic example order (nothing repeated, nothing skipped).
``<out>/metrics.jsonl`` holds the loss per logged step (``train_loss.png`` is drawn from it).

Example:
    setsel train-head --config configs/train_head.yaml
    setsel train-head --config configs/train_head.yaml --set epochs=1 --set out=runs/head_small
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from setsel.synthesis.job import DatasetSpec
from setsel.training.head_data import permuted, pinned

__all__ = ["HeadTrainConfig", "lr_factor", "permuted", "pinned", "schedule", "train_head"]

log = logging.getLogger(__name__)


@dataclass
class HeadTrainConfig:
    """``setsel train-head --config configs/train_head.yaml [--set a.b=v]``."""

    data: str = "configs/synthesize_gold.yaml"
    """Synthesis config whose ``datasets`` (minus its ``exclude_eval`` questions) are the training questions."""
    datasets: list[DatasetSpec] | None = None
    """Replace the synthesis config's ``datasets`` (its ``exclude_eval`` still applies); ``None`` = keep them."""
    limit: int | None = None
    """Use at most this many training questions (the first ones, before the split); ``None`` = all."""
    out: str = "runs/llm_head"
    """Output folder: the model (adapter, head, ``setsel_head.json``), ``metrics.jsonl``, the curve."""
    base_model: str = "hf:smollm2-135m"
    """Base causal LM (a model reference: embedded name, ``.gguf`` or HF folder)."""
    keep_layers: int | None = 20
    """Use only the first this many decoder layers (``None`` = all): speed (see ``truncate_layers``)."""
    lora_layers: int = 10
    """LoRA on the top this many kept layers; lower layers stay frozen and get no backward pass."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (scale = alpha / r)."""
    head_inner: int = 256
    """Width of the head's hidden layer."""
    max_words: int | None = 40
    """Words kept of each passage's text, in training and (via the model folder) at selection time."""
    epochs: int = 2
    """Passes over the training questions (each pass with fresh pool permutations)."""
    max_steps: int | None = None
    """Stop after this many optimiser steps (smoke tests); ``None`` = all epochs."""
    grad_accum: int = 8
    """Questions per optimiser step (one pool per forward pass)."""
    lr: float = 4e-4
    """Peak learning rate of the LoRA weights (AdamW)."""
    head_lr: float = 1e-3
    """Peak learning rate of the head."""
    warmup_ratio: float = 0.05
    """Share of the steps with a linear warm-up; then linear decay to 0."""
    pos_weight: float | None = None
    """BCE weight of gold passages; ``None`` = 1."""
    listwise_weight: float = 0.0
    """Weight λ of a listwise ranking term added to the per-passage BCE: ``BCE + λ·pool_listwise``
    (:func:`setsel.training.losses.pool_listwise`: each gold passage against the pool's non-gold ones
    in one softmax). BCE calibrates each logit for the threshold; the listwise term trains the order
    of gold above non-gold directly. 0 = BCE alone (the shipped recipe)."""
    pin_fraction: float = 0.0
    """Share of the training pools with ≥ 2 gold passages shown as a *second-hop read*: one gold passage
    (seeded random) on the layout's ``Known:`` line and out of the pool, the other gold passages the
    labels (Beam Retrieval's hop-conditioned target; :func:`pinned`). Such a model can re-read a pool
    given its top passage at selection time (``second_hop``, tuned with the cut). 0 = plain reads only."""
    repeats: dict[str, int] = field(default_factory=dict)
    """Reads per epoch of every training question of these datasets (keyed by the synthesis config's
    dataset label: its ``name``, or ``name/folder`` where a ``path`` is given), each read in its own
    permutation; other datasets are read once. E.g. ``{musique-train: 3}`` oversamples the only
    20-passage (MuSiQue) pools. Held-out questions are never repeated. ``{}`` = every question once."""
    seed: int = 0
    """Seed of the split, the head's initialisation, the question order and the permutations."""
    dev_fraction: float = 0.05
    """Share of training questions held out (never trained on) to tune the threshold."""
    max_passages: int = 5
    """At most this many passages per selection, in tuning and (via the model folder) at selection time."""
    lexical_weights: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 1.5, 2.0])
    """Weights ``w`` of the BM25 fusion (``logit + w·z(BM25 over the pool)``) tried when tuning the cut on
    the held-out questions; the best is recorded as the folder's ``lexical_weight``. ``[0]`` = the head alone."""
    second_hop_mixes: list[float] = field(default_factory=lambda: [0.5, 1.0])
    """With ``pin_fraction`` > 0: weights ``m`` of the second-hop read tried with the cut (``(1 − m)·first +
    m·second`` for every passage but the first read's best); the best is recorded as the folder's
    ``second_hop_mix``, 0 (one read) when none beats the single read."""
    feedback_weights: list[float] = field(default_factory=lambda: [0.0, 0.5, 1.0, 1.5, 2.0])
    """Weights ``v`` of the lexical second-hop feedback (the best passage's text as a BM25 query over
    the rest of the pool, :func:`setsel.selection.lexical.feedback_scores`) tried with the cut on the
    held-out questions; the best is recorded as the folder's ``feedback_weight``. ``[0]`` = none."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """``auto`` = bf16 weights + autocast where the CPU/GPU runs bf16 natively, else fp32."""
    num_threads: int | None = None
    """torch CPU threads; ``None`` = torch's default."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto`` = CUDA when available."""
    checkpoint_every: int = 10
    """Save a resumable checkpoint every this many optimiser steps."""
    logging_steps: int = 5
    """Append the mean loss to ``metrics.jsonl`` every this many steps."""
    progress: bool = True
    """Show a progress bar."""

    def __post_init__(self) -> None:
        for name in ("lora_layers", "lora_r", "lora_alpha", "head_inner", "epochs", "grad_accum", "max_passages",
                     "checkpoint_every", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.keep_layers is not None and self.keep_layers < self.lora_layers:
            raise ValueError(f"lora_layers ({self.lora_layers}) must be ≤ keep_layers ({self.keep_layers})")
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.repeats.values()):
            raise ValueError(f"repeats must map dataset labels to integers ≥ 1, got {self.repeats!r}")
        if (isinstance(self.listwise_weight, bool) or not isinstance(self.listwise_weight, (int, float))
                or not self.listwise_weight >= 0.0):
            raise ValueError(f"listwise_weight must be ≥ 0, got {self.listwise_weight!r}")
        if not 0.0 <= self.pin_fraction <= 1.0:
            raise ValueError(f"pin_fraction must be in [0, 1], got {self.pin_fraction}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if any(isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m <= 1 for m in self.second_hop_mixes):
            raise ValueError(f"second_hop_mixes must be numbers in (0, 1], got {self.second_hop_mixes!r}")
        if not self.lexical_weights or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0
                                           for w in self.lexical_weights):
            raise ValueError(f"lexical_weights must be a non-empty list of numbers ≥ 0, got {self.lexical_weights!r}")
        if not self.feedback_weights or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
                                            for v in self.feedback_weights):
            raise ValueError(f"feedback_weights must be a non-empty list of numbers ≥ 0, got {self.feedback_weights!r}")


def schedule(n_questions: int, epochs: int, seed: int, reads: list[int] | None = None
             ) -> list[tuple[int, int, int]]:
    """``(epoch, question index, read)`` in training order: each epoch a seeded shuffle of every
    question's ``reads[i]`` reads (default 1; read 0 first listed, so with one read each the order is
    the same as without ``reads``). Pure.

    >>> len(schedule(3, 2, 0)), sorted(i for e, i, r in schedule(3, 2, 0) if e == 1)
    (6, [0, 1, 2])
    >>> sorted((i, r) for e, i, r in schedule(2, 1, 0, reads=[1, 2]))
    [(0, 0), (1, 0), (1, 1)]
    """
    reads = reads or [1] * n_questions
    if len(reads) != n_questions:
        raise ValueError(f"reads has {len(reads)} entries for {n_questions} questions")
    items = [(i, 0) for i in range(n_questions)] + [(i, r) for i in range(n_questions) for r in range(1, reads[i])]
    out = []
    for e in range(epochs):
        idx = list(items)
        random.Random(f"{seed}:epoch{e}").shuffle(idx)
        out.extend((e, i, r) for i, r in idx)
    return out


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then linear decay to 0 at ``total``. Pure.

    >>> [round(lr_factor(s, 10, 2), 3) for s in (0, 1, 2, 6, 10)]
    [0.5, 1.0, 1.0, 0.5, 0.0]
    """
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def _atomic_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _resolve_precision(cfg: HeadTrainConfig, device: str) -> str:
    from setsel.hardware import preferred_dtype

    return preferred_dtype(device) if cfg.precision == "auto" else cfg.precision


def build_model(cfg: HeadTrainConfig, dtype: str) -> Any:
    """The trainable :class:`PoolHeadModel`: truncated base in ``dtype``, LoRA (fp32) on the top layers."""
    import torch
    from peft import LoraConfig, get_peft_model

    from setsel.prompts.pool_layout import PoolLayout
    from setsel.selection.head_model import LINEAR_MODULES, PassageHead, PoolHeadModel, load_body

    torch.manual_seed(cfg.seed)   # LoRA's A matrices and the head start from the seed
    tok, lm = load_body(cfg.base_model, cfg.keep_layers, dtype)
    n = len(lm.model.layers)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, target_modules=LINEAR_MODULES,
                      layers_to_transform=list(range(n - min(cfg.lora_layers, n), n)), layers_pattern="layers",
                      bias="none")
    lm = get_peft_model(lm, lora)
    for p in lm.parameters():
        if p.requires_grad:
            p.data = p.data.float()
    head = PassageHead(lm.config.hidden_size, cfg.head_inner)
    meta = {"base_model": cfg.base_model, "keep_layers": cfg.keep_layers, "compute_dtype": dtype,
            "max_passages": cfg.max_passages}
    return PoolHeadModel(lm, tok, PoolLayout(max_words=cfg.max_words), head, meta)


def train_head(cfg: HeadTrainConfig) -> dict[str, Any]:
    """Train, tune the threshold, write ``cfg.out``; returns what ``setsel_head.json`` records."""
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits

    from setsel.training.cross_encoder import labelled_questions, split_questions
    from setsel.training.losses import pool_listwise

    start = time.perf_counter()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    dtype = _resolve_precision(cfg, device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    from setsel.selection.head_model import META_FILE
    from setsel.training.curves import truncate_metrics

    (out / META_FILE).unlink(missing_ok=True)   # never leave a finished-looking folder mid-run
    sources: dict[str, str] = {}
    questions = labelled_questions(cfg, sources)  # type: ignore[arg-type]  (same fields: data, datasets, limit)
    if len(questions) < 2:
        raise ValueError(f"need at least 2 training questions with a gold passage, got {len(questions)}")
    unknown = sorted(set(cfg.repeats) - set(sources.values()))
    if unknown:
        raise ValueError(f"repeats names {unknown}, not a training dataset; valid: {sorted(set(sources.values()))}")
    train_q, dev_q = split_questions(questions, cfg.dev_fraction, cfg.seed)
    order = schedule(len(train_q), cfg.epochs, cfg.seed,
                     [cfg.repeats.get(sources.get(c.query.id, ""), 1) for c in train_q])
    total = math.ceil(len(order) / cfg.grad_accum)
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps)
    warmup = max(1, round(cfg.warmup_ratio * total))
    log.info("train: %d questions × %d epochs = %d steps (%s); dev: %d questions", len(train_q), cfg.epochs, total,
             dtype, len(dev_q))

    model = build_model(cfg, dtype).to(device)
    lora_params = [p for p in model.lm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": lora_params, "lr": cfg.lr}, {"params": list(model.head.parameters()),
                                                                       "lr": cfg.head_lr}], weight_decay=0.0)
    base_lrs = [cfg.lr, cfg.head_lr]
    ckpt, metrics_path = out / "checkpoint.pt", out / "metrics.jsonl"
    fingerprint = json.dumps({k: v for k, v in dataclasses.asdict(cfg).items()
                              if k not in ("progress", "num_threads", "lexical_weights", "second_hop_mixes", "feedback_weights")},  # tuning only
                             sort_keys=True, default=str)
    step = 0
    if ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        if state["config"] != fingerprint:
            raise ValueError(f"{ckpt} was written by another config; remove {out} or use another out")
        trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
        with torch.no_grad():
            for n, p in trainable.items():
                p.copy_(state["weights"][n])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        truncate_metrics(metrics_path, step)   # the steps after the checkpoint are redone: no duplicate rows
        log.info("resuming at step %d of %d", step, total)
    else:
        metrics_path.unlink(missing_ok=True)

    def save_checkpoint() -> None:
        weights = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
        _atomic_save({"config": fingerprint, "step": step, "weights": weights, "optimizer": opt.state_dict()}, ckpt)

    from tqdm.auto import tqdm

    first_step = step
    bar = tqdm(total=total, initial=step, desc="train llm_head", unit="step", disable=not cfg.progress)
    model.train()
    window: list[float] = []
    while step < total:
        for group, base_lr in zip(opt.param_groups, base_lrs):
            group["lr"] = base_lr * lr_factor(step, total, warmup)
        losses = []
        for epoch, qi, read in order[step * cfg.grad_accum : (step + 1) * cfg.grad_accum]:
            c = train_q[qi]
            key = f"{cfg.seed}:{epoch}:{c.query.id}" + (f":{read}" if read else "")   # read 0: the key of one read
            shown, labels = permuted(c, key)
            known, shown, labels = pinned(shown, labels, f"{key}:pin", cfg.pin_fraction)
            seq = model.encode(c.query.question, shown, known)
            with model.autocast():
                logits = model.forward_sequences([seq])[0].float()
            target = torch.tensor(labels, device=logits.device)
            pw = None if cfg.pos_weight is None else torch.tensor(cfg.pos_weight, device=logits.device)
            loss = binary_cross_entropy_with_logits(logits, target, pos_weight=pw)
            if cfg.listwise_weight:
                loss = loss + cfg.listwise_weight * pool_listwise(logits, target)
            (loss / cfg.grad_accum).backward()
            losses.append(loss.item())
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        window.extend(losses)
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses) / len(losses):.3f}")
        if step % cfg.logging_steps == 0 or step == total:
            row = {"step": step, "loss": round(sum(window) / len(window), 6), "lr": opt.param_groups[0]["lr"],
                   "elapsed_s": round(time.perf_counter() - start, 1)}
            with metrics_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            window = []
        if step % cfg.checkpoint_every == 0 or step == total:
            save_checkpoint()
    bar.close()
    train_s = time.perf_counter() - start

    from setsel.training.head_tune import tune

    model.meta.update(tune(model, dev_q, cfg))
    model.meta.update({
        "train": {"config": dataclasses.asdict(cfg), "questions": len(train_q), "examples": len(order),
                  "steps": total, "precision": dtype, "train_s": round(train_s, 1),
                  "resumed_at_step": first_step or None,
                  "s_per_example": round(train_s / max(1, len(order[first_step * cfg.grad_accum : total * cfg.grad_accum])), 3)},
    })
    model.save(out)
    _plot(metrics_path, out / "train_loss.png")
    ckpt.unlink(missing_ok=True)
    log.info("rule %s (threshold %.4f / temperature %.2f), at least %d, lexical weight %.2f (mean set F1 %.4f on "
             "%d held-out questions); wrote %s", model.meta["rule"], model.meta["threshold"], model.meta["temperature"],
             model.meta["min_passages"], model.meta["lexical_weight"], model.meta["tuned_set_f1"], len(dev_q), out)
    return model.meta


def _plot(metrics: Path, png: Path) -> None:
    from setsel.training.curves import plot_curves, read_metrics

    rows = read_metrics(metrics)
    if rows:
        plot_curves({"llm_head": rows}, png, title="llm_head: BCE per passage on gold-labelled pools")
