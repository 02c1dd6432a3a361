"""One evaluation run as a config: what ``setsel eval`` and ``python -m jobs.evaluate`` share.

:class:`EvalJobConfig` (YAML + ``--set a.b=v`` through :func:`setsel.config.load_config`,
or built from CLI flags) says which dataset, method and options; :func:`run_eval` runs
it in this process and writes the outputs (see :mod:`setsel.evaluation.report`). The Ray
job runs the same config with selection sharded over an actor pool
(:func:`setsel.distributed.evaluate.evaluate_on_ray`).

Example::

    cfg = load_config(EvalJobConfig, "configs/eval.yaml", ["k=3", "limit=20"])
    result, paths = run_eval(cfg)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from setsel.config import ConfigError, RayConfig
from setsel.types import Candidates


def _eval_ray() -> RayConfig:
    return RayConfig(num_actors=2)


RayEvalConfig = RayConfig
"""The eval job's ``ray:`` block: :class:`setsel.config.RayConfig`, two actors by default;
``enabled`` runs selection on a Ray actor pool (``jobs.evaluate`` turns it on)."""


@dataclass
class EvalJobConfig:
    """One evaluation (the ``setsel eval`` flags, one field each)."""

    dataset: str = "hotpotqa-ircot"
    data: str | None = None
    qa: str | None = None
    method: str = "topk"
    variant: str | None = None
    model: str | None = None
    k: int = 5
    max_passages: int | None = None
    limit: int | None = None
    seed: int | None = None
    shuffle_candidates: int | None = None
    generate: bool = False
    generator: str | None = None
    generator_options: dict[str, Any] = field(default_factory=dict)
    max_answer_tokens: int = 32
    novelty_bertscore: bool = False
    batch_size: int = 8
    selector_options: dict[str, Any] = field(default_factory=dict)
    out: str = "runs/eval"
    progress: bool = True
    overwrite: bool = False
    ray: RayConfig = field(default_factory=_eval_ray)

    def __post_init__(self) -> None:
        for name in ("k", "batch_size", "max_answer_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int ≥ 1, got {value!r}")
        if self.limit is not None and self.limit < 0:
            raise ConfigError(f"limit must be ≥ 0, got {self.limit}")
        if (self.generator is not None or self.generator_options) and not self.generate:
            raise ConfigError("a generator is given but generate is off (use --generate)")


def selector_options(cfg: EvalJobConfig) -> dict[str, Any]:
    """Options for :func:`setsel.selection.get_selector`: ``k`` plus the flags that were set."""
    options: dict[str, Any] = {"k": cfg.k}
    for name in ("max_passages", "model", "variant", "seed"):
        value = getattr(cfg, name)
        if value is not None:
            options[name] = value
    clash = sorted(set(options) & set(cfg.selector_options))
    if clash:
        raise ConfigError(f"selector_options repeats {clash}; set them with their own flags")
    return {**options, **cfg.selector_options}


def generator_id(cfg: EvalJobConfig) -> str | None:
    """The generator model id when answers are generated (default ``DEFAULT_MODEL``)."""
    if not cfg.generate:
        return None
    if cfg.generator:
        return cfg.generator
    from setsel.engines import DEFAULT_MODEL

    return DEFAULT_MODEL


def load_candidates(cfg: EvalJobConfig) -> list[Candidates]:
    """The dataset of ``cfg`` (first ``limit`` questions)."""
    from setsel.datasets import load_dataset

    return load_dataset(cfg.dataset, cfg.data, cfg.qa, limit=cfg.limit)


def settings(cfg: EvalJobConfig, runner: str) -> dict[str, Any]:
    """What report.md and the Parquet metadata record about the run."""
    from setsel.datasets import dataset_path

    path = dataset_path(cfg.dataset, cfg.data) if cfg.dataset != "demo" else None
    return {"runner": runner, "data": str(path) if path else None, "qa": cfg.qa, "variant": cfg.variant,
            "max_passages": cfg.max_passages, "limit": cfg.limit, "seed": cfg.seed,
            "shuffle_candidates": cfg.shuffle_candidates, "generator": generator_id(cfg),
            "generator_options": cfg.generator_options,
            "batch_size": cfg.batch_size, "selector_options": cfg.selector_options}


# Fields that do not change the results: a rerun may differ in them and still resume.
NOT_FINGERPRINTED = ("out", "progress", "overwrite", "ray")


def fingerprint(cfg: EvalJobConfig) -> dict[str, Any]:
    """The settings that decide the results (the journal header; see :mod:`setsel.evaluation.journal`)."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(cfg).items() if k not in NOT_FINGERPRINTED}


def open_journal(cfg: EvalJobConfig):
    """``cfg.out/journal.jsonl`` for this run: finished questions are kept there as they finish."""
    from pathlib import Path

    from setsel.evaluation.journal import Journal

    return Journal(Path(cfg.out) / "journal.jsonl", fingerprint(cfg), overwrite=cfg.overwrite)


def run_eval(cfg: EvalJobConfig, engine: Any = None):
    """Run ``cfg`` in this process; write the outputs to ``cfg.out``. Returns ``(EvalResult, paths)``.

    ``engine``: an already loaded engine for an LLM method (shared by many runs, e.g.
    ``benchmarks/results_table.py``); it is used instead of loading ``cfg.model`` and not closed (ignored by LLM-free methods).

    Resumable: each finished batch goes to ``cfg.out/journal.jsonl``; a rerun of the same
    config skips the questions found there (``cfg.overwrite`` starts afresh; another config
    in the same folder raises :class:`~setsel.evaluation.journal.JournalMismatch`).
    """
    from setsel.evaluation.report import write_report
    from setsel.evaluation.runner import evaluate
    from setsel.selection import get_selector, get_selector_class

    if cfg.ray.enabled:
        raise ConfigError("ray.enabled is set: run through setsel.distributed.stages.run_eval (as `setsel eval` and "
                          "jobs.evaluate do), or set ray.enabled=false")
    options = selector_options(cfg)
    if engine is not None and get_selector_class(cfg.method).uses_llm:
        options["engine"] = engine
    journal = open_journal(cfg)
    selector = get_selector(cfg.method, **options)
    try:
        candidates = load_candidates(cfg)
        result = evaluate(candidates, selector, k=cfg.k, generate=cfg.generate, generator=generator_id(cfg),
                          shuffle_seed=cfg.shuffle_candidates, progress=cfg.progress, batch_size=cfg.batch_size,
                          max_answer_tokens=cfg.max_answer_tokens, dataset=cfg.dataset, model=cfg.model,
                          novelty_bertscore=cfg.novelty_bertscore, generator_options=cfg.generator_options,
                          journal=journal)
    finally:
        selector.close()
    return result, write_report(result, cfg.out, settings(cfg, "local"))
