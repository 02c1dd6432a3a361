"""Dense index builds on Ray Data: embedding shards encoded by an actor pool.

The driver plans the shards (:mod:`setsel.retrieval.shards`) and hands only the missing
ones, one per row, to :class:`EncodeShardActor` actors through
:func:`setsel.distributed.pool.map_in_order`: each actor loads the encoder once (on its GPU when
``ray.num_gpus_per_actor`` is 1) and writes whole shard files atomically, so a killed job
rerun skips every finished shard. The driver then merges the shards into one FAISS index
(:func:`setsel.retrieval.index.build_index`). The index directory must be on storage every
node sees (NFS, a mounted bucket) when actors run on several nodes.

Example::

    init_ray()
    build_index("corpus.parquet", "idx", IndexSettings(retriever="dense"),
                shard_runner=ray_shard_runner(RayConfig(num_actors=2)))
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any


class EncodeShardActor:
    """A ``map_batches`` callable: one encoder per actor; each row of a batch is one shard."""

    def __init__(self, encoder: str, encoder_path: str | None, batch_size: int, passages_path: str,
                 shard_dir: str) -> None:
        from setsel.retrieval.encoders import load_encoder

        self.encoder = load_encoder(encoder, encoder_path, batch_size=batch_size)
        self.passages_path, self.shard_dir = passages_path, shard_dir

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        """``{index, start, stop}`` columns (one shard per row) → ``{index, rows}`` (rows encoded)."""
        from setsel.retrieval.shards import ShardSpec, encode_shard

        done, rows = [], []
        for i, start, stop in zip(batch["index"], batch["start"], batch["stop"]):
            spec = ShardSpec(int(i), int(start), int(stop))
            rows.append(encode_shard(self.encoder, self.passages_path, spec, self.shard_dir))
            done.append(spec.index)
        return {"index": done, "rows": rows}


def ray_shard_runner(ray_cfg: Any):
    """A ``shard_runner`` for :func:`~setsel.retrieval.index.build_index` that uses Ray Data."""

    def run(passages_path: Path, plan: list, shard_dir: Path, settings: Any) -> int:
        from setsel.distributed.pool import ActorPool, map_in_order
        from setsel.retrieval.shards import missing_shards

        todo = missing_shards(shard_dir, plan)
        if not todo:
            return 0
        Path(shard_dir).mkdir(parents=True, exist_ok=True)
        out = map_in_order(
            [asdict(s) for s in todo], EncodeShardActor,
            {"encoder": settings.encoder, "encoder_path": settings.encoder_path,
             "batch_size": settings.encode_batch_size, "passages_path": str(Path(passages_path).resolve()),
             "shard_dir": str(Path(shard_dir).resolve())},
            ActorPool.of(ray_cfg, blocks_per_actor=len(todo)),  # one shard per block
        )
        finished = [int(r["index"]) for r in out]
        if finished != [s.index for s in todo]:
            raise RuntimeError(f"Ray index build finished shards {finished[:5]}…, expected {len(todo)} shards")
        return len(finished)

    return run
