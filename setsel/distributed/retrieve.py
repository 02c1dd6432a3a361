"""Retrieval on Ray Data: queries fanned out over actors that each load the index once.

Rows travel as JSON strings (``Query.to_dict`` in, ``Candidates.to_dict`` out) and come
back in query order (:func:`setsel.distributed.pool.map_in_order`). Actors ask for ``ray.num_cpus_per_actor`` CPUs (0.5 by default: on a
2-core machine whole-CPU actors starve Ray Data's read tasks) and ``num_gpus_per_actor``
(a GPU FAISS index and encoder on a cluster).

Example::

    init_ray()
    cands = retrieve_on_ray(RetrieveJobConfig(index="idx", ray=RayConfig(enabled=True, num_actors=2)), queries)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RetrieveActor:
    """A ``map_batches`` callable holding one loaded index."""

    def __init__(self, index: str, k: int, verify: bool, encoder_path: str | None) -> None:
        from setsel.retrieval.index import load_index

        self.index = load_index(index, verify=verify, encoder_path=encoder_path)
        self.k = k

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from setsel.types import Query

        queries = [Query.from_dict(json.loads(s)) for s in batch["query"]]
        cands = self.index.search(queries, k=self.k)
        return {"candidates": [json.dumps(c.to_dict(), ensure_ascii=False) for c in cands]}


def retrieve_on_ray(cfg: Any, queries: list) -> list:
    """Top-``cfg.k`` Candidates for each query, in input order (Ray must be initialised)."""
    from setsel.distributed.pool import ActorPool, map_in_order
    from setsel.types import Candidates

    rows = [{"query": json.dumps(q.to_dict(), ensure_ascii=False)} for q in queries]
    out = map_in_order(rows, RetrieveActor,
                       {"index": str(Path(cfg.index).resolve()), "k": cfg.k, "verify": cfg.verify,
                        "encoder_path": cfg.encoder_path},
                       ActorPool.of(cfg.ray), batch_size=cfg.batch_size)
    return [Candidates.from_dict(json.loads(r["candidates"])) for r in out]
