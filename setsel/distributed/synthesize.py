"""Synthesis on Ray Data: questions → ESR actors (an engine each) → scoring → Parquet parts.

Each actor holds its engines (vLLM with one GPU on a cluster: ``num_gpus_per_actor: 1``;
transformers on CPU), samples and scores a batch, and writes that batch's part file
atomically before returning, so a killed job keeps every finished batch (see
:mod:`setsel.synthesis.job`). Actor pools use ``ActorPoolStrategy`` with fractional CPUs:
on 2 cores, ``map_batches(concurrency=…)`` with whole CPUs starves the read tasks and
hangs (../shared/ENVIRONMENT.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from setsel.synthesis.job import SynthesisConfig, make_engines, process_batch
from setsel.types import Candidates


class ESRActor:
    """Callable class for ``map_batches``: one engine pair per actor, reused across batches."""

    def __init__(self, cfg_dict: dict[str, Any]):
        from setsel.config import _build

        self.cfg = _build(SynthesisConfig, cfg_dict)
        self.selector, self.generator = make_engines(self.cfg)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        cands = [Candidates.from_dict(json.loads(x)) for x in batch["candidates"]]
        n = process_batch(self.cfg, cands, self.selector, self.generator)
        return {"query_ids": [",".join(c.query.id for c in cands)], "n_sets": [n]}


def run_ray(cfg: SynthesisConfig, pending: list[Candidates]) -> int:
    from setsel.distributed.runtime import init_ray

    ray = init_ray(address=cfg.ray_address)
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = True
    rows = [{"query_id": c.query.id, "candidates": json.dumps(c.to_dict())} for c in pending]
    n_blocks = max(1, min(len(rows), cfg.num_actors * 4))
    ds = ray.data.from_items(rows).repartition(n_blocks)
    resources: dict[str, Any] = {"num_cpus": cfg.num_cpus_per_actor}
    if cfg.num_gpus_per_actor:
        resources["num_gpus"] = cfg.num_gpus_per_actor
    out = ds.map_batches(
        ESRActor,
        fn_constructor_kwargs={"cfg_dict": asdict(cfg)},
        batch_size=cfg.batch_size,
        compute=ray.data.ActorPoolStrategy(size=cfg.num_actors),
        **resources,
    )
    return sum(int(r["n_sets"]) for r in out.iter_rows())
