"""A trained cross-encoder baseline (issue 18): MiniLM + a new head on gold labels, thresholded.

The bar a trained LLM selector must beat. From the training questions of a synthesis config
(:func:`setsel.synthesis.job.training_questions`: its ``datasets`` minus every question of
its ``exclude_eval`` files) it:

1. drops pools without a gold passage (the rule of :mod:`setsel.synthesis.gold`) and holds
   out ``dev_fraction`` of the **questions** (seeded) for threshold tuning;
2. trains a sentence-transformers ``CrossEncoder`` (``num_labels=1``, initialised from the
   embedded all-MiniLM-L6-v2 encoder, new classification head) with
   ``BinaryCrossEntropyLoss`` on ``(question, "title: text", gold?)`` pairs of the other
   questions (optionally only ``negatives_per_positive`` non-gold passages per gold one),
   through ``CrossEncoderTrainer`` (progress bar, loss every ``logging_steps``);
3. scores the held-out questions with the ``cross_encoder`` selector's own scorer (raw
   logits) and picks the threshold that maximises their mean set F1
   (:func:`tune_threshold`, selection rule :func:`setsel.selection.cross_encoder.select_by_threshold`);
4. writes ``out/`` = the model (``save_pretrained``: loadable by transformers and by the
   ``cross_encoder`` selector) plus ``setsel_selector.json`` (threshold, max_passages,
   max_length, tuned_on, tuned_set_f1, train: config, pairs, wall_s).

Resumable at epoch granularity: a checkpoint is kept in ``out/checkpoints`` after every
epoch and a rerun with the same ``out`` continues from the latest one (the split and the
pairs are deterministic). They are deleted once the model and the json are written, so a
rerun after a finished run trains again from the start.

Example:
    setsel train-cross-encoder --config configs/train_cross_encoder.yaml
    >>> tune_threshold([[2.0, 1.0, -1.0]], [{0, 1}], max_passages=3)
    (0.0, 1.0)
"""

from __future__ import annotations

import bisect
import json
import logging
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from setsel.evaluation.metrics import set_prf
from setsel.synthesis.job import DatasetSpec

log = logging.getLogger(__name__)


@dataclass
class CrossEncoderTrainConfig:
    """``setsel train-cross-encoder --config configs/train_cross_encoder.yaml [--set a.b=v]``."""

    data: str = "configs/synthesize_gold.yaml"
    """Synthesis config whose ``datasets`` (minus its ``exclude_eval`` questions) are the training questions."""
    datasets: list[DatasetSpec] | None = None
    """Replace the synthesis config's ``datasets`` (its ``exclude_eval`` still applies); ``None`` = keep them."""
    limit: int | None = None
    """Use at most this many training questions (the first ones, before the split); ``None`` = all."""
    out: str = "runs/cross_encoder"
    """Output folder: the model, ``setsel_selector.json`` and (while training) ``checkpoints/``."""
    base_model: str | None = None
    """Encoder to start from (a local folder); ``None`` = the embedded all-MiniLM-L6-v2."""
    max_length: int = 256
    """Tokens per (question, passage) pair, in training and (via the json) at selection time."""
    negatives_per_positive: float | None = None
    """Train on at most ``ceil(this × gold passages)`` non-gold passages per question (seeded
    sample; a CPU budget knob); ``None`` = every passage of every pool. The threshold is always
    tuned on whole held-out pools."""
    epochs: int = 1
    """Passes over the training pairs."""
    max_steps: int | None = None
    """Stop after this many optimiser steps (smoke tests); ``None`` = ``epochs`` full passes."""
    batch_size: int = 16
    """Pairs per optimiser step."""
    lr: float = 5e-5
    """Peak learning rate (AdamW)."""
    warmup_ratio: float = 0.1
    """Share of the steps with a linear learning-rate warm-up."""
    lr_scheduler: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    """Learning-rate schedule after the warm-up."""
    pos_weight: float | None = None
    """BCE weight of the positive (gold) pairs; ``None`` = 1 (no reweighting)."""
    seed: int = 0
    """Seed of the dev split, the head's initialisation and the pair order."""
    dev_fraction: float = 0.1
    """Share of training questions held out (not trained on) to tune the threshold."""
    max_passages: int = 5
    """At most this many passages per selection, in tuning and (via the json) at selection time."""
    num_threads: int = 1
    """torch CPU threads (``torch.set_num_threads``)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """Where to train and score; ``auto`` = CUDA when available."""
    logging_steps: int = 50
    """Log the loss every this many steps."""
    score_batch_size: int = 64
    """Pairs per forward pass when scoring the held-out questions."""
    extra: dict[str, Any] = field(default_factory=dict)
    """More ``CrossEncoderTrainingArguments`` keyword arguments (advanced)."""

    def __post_init__(self) -> None:
        if self.negatives_per_positive is not None and self.negatives_per_positive < 0:
            raise ValueError(f"negatives_per_positive must be ≥ 0 or None, got {self.negatives_per_positive}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        for name in ("max_length", "epochs", "batch_size", "max_passages", "num_threads", "logging_steps",
                     "score_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")


def tune_threshold(scores: list[list[float]], gold: list[set[int]], max_passages: int | None = None,
                   min_passages: int = 1) -> tuple[float, float]:
    """The score threshold that maximises mean set F1 over questions. Pure.

    ``scores[q][i]`` is passage ``i``'s score for question ``q``, ``gold[q]`` its gold indices
    (non-empty). A threshold ``t`` selects, per question, the passages scoring ``≥ t`` in score
    order, at least ``min_passages`` (1) and at most ``max_passages``
    (:func:`setsel.selection.cross_encoder.select_by_threshold`); F1 is
    :func:`setsel.evaluation.metrics.set_prf`. Candidates are the distinct scores; among equal
    F1 the highest wins (smaller sets). The returned threshold sits halfway between the
    winning score and the next lower distinct score (the lowest score itself when it wins),
    so it selects the same sets here with a margin for unseen scores.

    Returns:
        ``(threshold, mean F1)``.
    """
    if not scores or len(scores) != len(gold):
        raise ValueError(f"need one gold set per question, got {len(scores)} score lists, {len(gold)} gold sets")
    ranked = [sorted(range(len(s)), key=lambda i: -s[i]) for s in scores]
    ascending = [sorted(s) for s in scores]
    candidates = sorted({x for s in scores for x in s}, reverse=True)
    best_t, best_f1, best_j = candidates[0], -1.0, 0
    for j, t in enumerate(candidates):
        total = 0.0
        for order, asc, g in zip(ranked, ascending, gold):
            n = min(len(asc), max(min_passages, len(asc) - bisect.bisect_left(asc, t)))
            n = n if max_passages is None else min(n, max_passages)
            total += set_prf(order[:n], g)[2]
        f1 = total / len(scores)
        if f1 > best_f1 + 1e-12:
            best_t, best_f1, best_j = t, f1, j
    if best_j + 1 < len(candidates):
        best_t = (best_t + candidates[best_j + 1]) / 2
    return best_t, best_f1


def tune_threshold_and_floor(scores: list[list[float]], gold: list[set[int]], max_passages: int | None = None,
                             floors: tuple[int, ...] = (1, 2, 3)) -> tuple[float, int, float]:
    """The ``(threshold, min_passages, mean F1)`` that maximises mean set F1, ``min_passages`` from
    ``floors`` (each with its own :func:`tune_threshold`; among equal F1 the smaller floor wins). Pure.

    >>> tune_threshold_and_floor([[3.0, 1.0, 0.0], [3.0, 2.0, 2.5]], [{0, 1}, {0, 2}], floors=(1, 2))
    (2.75, 2, 1.0)
    """
    best: tuple[float, int, float] | None = None
    for floor in sorted(floors):
        if max_passages is not None and floor > max_passages:
            continue
        t, f1 = tune_threshold(scores, gold, max_passages, min_passages=floor)
        if best is None or f1 > best[2] + 1e-12:
            best = (t, floor, f1)
    if best is None:
        raise ValueError(f"no floor in {floors} is ≤ max_passages={max_passages}")
    return best


def labelled_questions(cfg: CrossEncoderTrainConfig, sources: dict[str, str] | None = None) -> list[Any]:
    """The training questions (Candidates) that have a gold passage in their pool, in file order.

    ``sources``, when given, is filled with question id → dataset label (``synthesis.job.source_label``)."""
    import dataclasses

    from setsel.config import load_config
    from setsel.synthesis.job import SynthesisConfig, training_questions

    syn = load_config(SynthesisConfig, cfg.data)
    if cfg.datasets is not None:
        syn = dataclasses.replace(syn, datasets=list(cfg.datasets))
    questions, refused = training_questions(syn, sources)
    kept = [c for c in questions if set(c.query.gold_passage_ids) & {p.id for p in c.passages}]
    log.info("training questions: %d (%d refused as evaluation questions, %d without gold in pool)",
             len(questions), len(refused), len(questions) - len(kept))
    return kept[: cfg.limit] if cfg.limit is not None else kept


def split_questions(questions: list[Any], dev_fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """``(train, dev)``: a seeded ``dev_fraction`` of the questions (at least 1) held out, file order kept."""
    ids = sorted(c.query.id for c in questions)
    random.Random(seed).shuffle(ids)
    n_dev = min(max(1, round(dev_fraction * len(ids))), len(ids) - 1)
    dev = set(ids[:n_dev])
    return [c for c in questions if c.query.id not in dev], [c for c in questions if c.query.id in dev]


def make_pairs(questions: list[Any], negatives_per_positive: float | None = None, seed: int = 0
               ) -> dict[str, list]:
    """Columns ``question``, ``passage`` (``title: text``), ``label`` (1.0 gold, 0.0 not), pool order.

    Every gold passage of a pool is a pair; so is every other passage, or with
    ``negatives_per_positive`` only ``ceil(ratio × n_gold)`` of them per question, sampled
    with ``random.Random(f"{seed}:{question id}")``.
    """
    import math

    from setsel.selection.mmr import passage_text

    cols: dict[str, list] = {"question": [], "passage": [], "label": []}
    for c in questions:
        gold = set(c.query.gold_passage_ids)
        negatives = [i for i, p in enumerate(c.passages) if p.id not in gold]
        if negatives_per_positive is not None:
            n_gold = len(c.passages) - len(negatives)
            keep = min(len(negatives), math.ceil(negatives_per_positive * n_gold))
            negatives = random.Random(f"{seed}:{c.query.id}").sample(negatives, keep)
        keep_idx = set(negatives)
        for i, p in enumerate(c.passages):
            if p.id not in gold and i not in keep_idx:
                continue
            cols["question"].append(c.query.question)
            cols["passage"].append(passage_text(p))
            cols["label"].append(1.0 if p.id in gold else 0.0)
    return cols


def _last_checkpoint(folder: Path) -> str | None:
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1]))
    return str(found[-1]) if found else None


def train_cross_encoder(cfg: CrossEncoderTrainConfig) -> dict[str, Any]:
    """Train, tune the threshold, write ``cfg.out`` (see the module docstring); returns the json's content."""
    import dataclasses

    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (CrossEncoder, CrossEncoderTrainer,
                                                     CrossEncoderTrainingArguments)
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from setsel.retrieval.encoders import embedded_minilm_path
    from setsel.selection.cross_encoder import SELECTOR_FILE, CrossEncoder as CrossEncoderSelector
    from setsel.selection.cross_encoder import CrossEncoderOptions
    from setsel.selection.mmr import passage_text

    start = time.perf_counter()
    torch.set_num_threads(cfg.num_threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / SELECTOR_FILE).unlink(missing_ok=True)   # never leave a finished-looking folder mid-run
    questions = labelled_questions(cfg)
    if len(questions) < 2:
        raise ValueError(f"need at least 2 training questions with a gold passage, got {len(questions)}")
    train_q, dev_q = split_questions(questions, cfg.dev_fraction, cfg.seed)
    pairs = make_pairs(train_q, cfg.negatives_per_positive, cfg.seed)
    n_pos = int(sum(pairs["label"]))
    log.info("train: %d questions, %d pairs (%d gold); dev: %d questions", len(train_q), len(pairs["label"]),
             n_pos, len(dev_q))

    base = cfg.base_model or str(embedded_minilm_path())
    torch.manual_seed(cfg.seed)
    model = CrossEncoder(base, num_labels=1, max_length=cfg.max_length, device=device, local_files_only=True)
    pos_weight = None if cfg.pos_weight is None else torch.tensor(cfg.pos_weight)
    loss = BinaryCrossEntropyLoss(model, pos_weight=pos_weight)
    ckpt_dir = out / "checkpoints"
    # transformers v5: a float warmup_steps < 1 is a ratio of the steps (warmup_ratio is deprecated)
    args = CrossEncoderTrainingArguments(
        output_dir=str(ckpt_dir), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=cfg.batch_size, learning_rate=cfg.lr, warmup_steps=cfg.warmup_ratio,
        lr_scheduler_type=cfg.lr_scheduler, seed=cfg.seed, data_seed=cfg.seed, use_cpu=device == "cpu",
        save_strategy="epoch", save_total_limit=1, logging_steps=cfg.logging_steps, report_to="none",
        dataloader_num_workers=0, disable_tqdm=False, **cfg.extra)
    trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=Dataset.from_dict(pairs), loss=loss)
    resume = _last_checkpoint(ckpt_dir)
    if resume:
        log.info("resuming from %s", resume)
    result = trainer.train(resume_from_checkpoint=resume)
    model.save_pretrained(str(out))
    train_s = time.perf_counter() - start

    scorer = CrossEncoderSelector(CrossEncoderOptions(model=str(out), max_length=cfg.max_length,
                                                      batch_size=cfg.score_batch_size, device=device))
    flat = scorer.score([(c.query.question, passage_text(p)) for c in dev_q for p in c.passages])
    scorer.close()
    scores, gold, i = [], [], 0
    for c in dev_q:
        scores.append(flat[i : i + len(c.passages)])
        i += len(c.passages)
        gold_ids = set(c.query.gold_passage_ids)
        gold.append({j for j, p in enumerate(c.passages) if p.id in gold_ids})
    threshold, f1 = tune_threshold(scores, gold, cfg.max_passages)
    config = dataclasses.asdict(cfg)
    config["base_model"] = base
    meta = {
        "threshold": round(threshold, 6), "max_passages": cfg.max_passages, "max_length": cfg.max_length,
        "tuned_on": len(dev_q), "tuned_set_f1": round(f1, 6), "tuned_question_ids": [c.query.id for c in dev_q],
        "train": {"config": config, "questions": len(train_q), "pairs": len(pairs["label"]), "positive_pairs": n_pos,
                  "steps": result.global_step, "train_loss": round(float(result.training_loss), 6),
                  "resumed_from": resume, "train_s": round(train_s, 1),
                  "wall_s": round(time.perf_counter() - start, 1)},
    }
    (out / SELECTOR_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    log.info("threshold %.4f (mean set F1 %.4f on %d held-out questions); wrote %s", threshold, f1, len(dev_q), out)
    return meta
