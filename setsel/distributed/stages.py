"""The entry layer's local-or-Ray choice, made once per stage.

``setsel index`` / ``retrieve`` / ``synthesize`` / ``eval`` and the ``jobs.*`` entry points call these;
each reads its config's Ray switch, starts or joins Ray only when asked, and hands the
domain function (which never imports Ray) the Ray runner or nothing:

==================  ======================  =============================================
stage               switch                  Ray path
==================  ======================  =============================================
index               ``cfg.ray.enabled``     ``shard_runner``: shards encoded on an actor pool
retrieve            ``cfg.ray.enabled``     ``search``: queries fanned out over retriever actors
synthesize          ``cfg.ray.enabled``     ``sampler``: ESR actors, one engine pair each
eval                ``cfg.ray.enabled``     selection on actors (``evaluate_on_ray``)
train               ``cfg.ray.enabled``     Ray Train workers (``run_training``); off: this process
==================  ======================  =============================================

Every switch is the same :class:`setsel.config.RayConfig` (``ray:`` in the config); the
``jobs.*`` entry points turn ``enabled`` on, the CLI leaves it as configured (off by default
except synthesis and training; ``setsel train --local`` turns training's off). Serving
(Ray Serve) is Ray by nature and keeps its own entry.

Example:
    >>> from setsel.retrieval.job import RetrieveJobConfig                      # doctest: +SKIP
    >>> run_retrieve(RetrieveJobConfig(index="runs/idx", out="runs/c.parquet"))   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any


def run_index(cfg: Any) -> dict[str, Any]:
    """:func:`setsel.retrieval.job.run_index`, on a Ray Data actor pool when ``cfg.ray.enabled``."""
    from setsel.retrieval.job import run_index as run

    runner = None
    if cfg.ray.enabled:
        from setsel.distributed.index import ray_shard_runner
        from setsel.distributed.runtime import init_ray

        init_ray(address=cfg.ray.address)
        runner = ray_shard_runner(cfg.ray)
    return run(cfg, shard_runner=runner)


def run_retrieve(cfg: Any) -> dict[str, Any]:
    """:func:`setsel.retrieval.job.run_retrieve`, fanned out over Ray actors when ``cfg.ray.enabled``."""
    from setsel.retrieval.job import run_retrieve as run

    search = None
    if cfg.ray.enabled:
        from setsel.distributed.retrieve import retrieve_on_ray
        from setsel.distributed.runtime import init_ray

        init_ray(address=cfg.ray.address)
        search = retrieve_on_ray
    return run(cfg, search=search)


def run_synthesis(cfg: Any, progress: bool = True) -> dict[str, Any]:
    """:func:`setsel.synthesis.job.run`, sampling on Ray Data ESR actors when ``cfg.ray.enabled``."""
    from setsel.synthesis.job import run

    sampler = None
    if cfg.ray.enabled and cfg.mode != "gold":  # gold labels sample nothing
        from setsel.distributed.synthesize import run_ray

        sampler = run_ray
    return run(cfg, progress=progress, sampler=sampler)


def run_eval(cfg: Any, engine: Any = None) -> tuple[Any, dict[str, Any]]:
    """:func:`setsel.evaluation.job.run_eval` in this process, or — when ``cfg.ray.enabled`` —
    selection on a Ray actor pool (:func:`setsel.distributed.evaluate.evaluate_on_ray`, same
    metrics); writes the outputs to ``cfg.out``. Returns ``(EvalResult, paths)``."""
    if not cfg.ray.enabled:
        from setsel.evaluation.job import run_eval as run

        return run(cfg, engine=engine)
    from setsel.distributed.evaluate import evaluate_on_ray
    from setsel.distributed.runtime import init_ray
    from setsel.evaluation.job import settings
    from setsel.evaluation.report import write_report

    init_ray(address=cfg.ray.address)
    result = evaluate_on_ray(cfg)
    return result, write_report(result, cfg.out, settings(cfg, "ray"))


def run_train(cfg: Any) -> dict[str, Any]:
    """Train (:class:`setsel.training.config.TrainConfig`): Ray Train on ``cfg.ray.num_actors``
    workers when ``cfg.ray.enabled`` (:func:`setsel.distributed.train.run_training`), else in
    this process (:func:`setsel.training.run.run_local`, one worker, no DeepSpeed)."""
    if cfg.ray.enabled:
        from setsel.distributed.train import run_training

        return run_training(cfg, address=cfg.ray.address)
    from setsel.training.run import run_local

    return run_local(cfg)
