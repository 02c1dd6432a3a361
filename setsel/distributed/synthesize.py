"""Synthesis on Ray Data: questions → ESR actors (an engine each) → scoring → Parquet parts
(the fan-out is :func:`setsel.distributed.pool.map_rows`).

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
        from setsel.config import build_config

        self.cfg = build_config(SynthesisConfig, cfg_dict)
        self.selector, self.generator = make_engines(self.cfg)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        """``candidates`` (JSON) column → ``query_id`` and ``n_sets`` (sets written) per question."""
        cands = [Candidates.from_dict(json.loads(x)) for x in batch["candidates"]]
        counts = process_batch(self.cfg, cands, self.selector, self.generator)
        return {"query_id": [c.query.id for c in cands], "n_sets": counts}


def run_ray(cfg: SynthesisConfig, pending: list[Candidates]) -> int:
    """Sample ``pending`` on a pool of ``cfg.ray.num_actors`` ESR actors; returns the sets written."""
    from setsel.distributed.pool import ActorPool, map_in_order
    from setsel.distributed.runtime import init_ray

    init_ray(address=cfg.ray.address)
    rows = [{"candidates": json.dumps(c.to_dict())} for c in pending]
    out = map_in_order(rows, ESRActor, {"cfg_dict": asdict(cfg)}, ActorPool.of(cfg.ray), batch_size=cfg.batch_size)
    return sum(int(r["n_sets"]) for r in out)
