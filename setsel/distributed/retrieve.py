"""Retrieval on Ray Data: queries fanned out over actors that each load the index once.

Rows travel as JSON strings (``Query.to_dict`` in, ``Candidates.to_dict`` out) and come
back in query order. Actors ask for ``ray.num_cpus_per_actor`` CPUs (0.5 by default: on a
2-core machine whole-CPU actors starve Ray Data's read tasks) and ``num_gpus_per_actor``
(a GPU FAISS index and encoder on a cluster).

Example::

    init_ray()
    cands = retrieve_on_ray(RetrieveJobConfig(index="idx", ray=RayRetrievalConfig(num_actors=2)), queries)
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
        return {"position": [int(i) for i in batch["position"]],
                "candidates": [json.dumps(c.to_dict(), ensure_ascii=False) for c in cands]}


def retrieve_on_ray(cfg: Any, queries: list) -> list:
    """Top-``cfg.k`` Candidates for each query, in input order (Ray must be initialised)."""
    import ray

    from setsel.types import Candidates

    if not queries:
        return []
    rows = [{"position": i, "query": json.dumps(q.to_dict(), ensure_ascii=False)} for i, q in enumerate(queries)]
    n_blocks = max(1, min(len(rows), cfg.ray.num_actors * 4))
    out = ray.data.from_items(rows).repartition(n_blocks).map_batches(
        RetrieveActor,
        fn_constructor_kwargs={"index": str(Path(cfg.index).resolve()), "k": cfg.k, "verify": cfg.verify,
                               "encoder_path": cfg.encoder_path},
        batch_size=cfg.batch_size,
        compute=ray.data.ActorPoolStrategy(size=cfg.ray.num_actors),
        num_cpus=cfg.ray.num_cpus_per_actor,
        num_gpus=cfg.ray.num_gpus_per_actor or None,
    ).take_all()
    out.sort(key=lambda r: int(r["position"]))
    if [int(r["position"]) for r in out] != list(range(len(queries))):
        raise RuntimeError(f"Ray retrieval returned {len(out)} rows for {len(queries)} queries")
    return [Candidates.from_dict(json.loads(r["candidates"])) for r in out]
