"""Embedding shards: the unit of work, parallelism and resumption of a dense index build.

The passages (rows of an index's ``passages.parquet``) are cut into contiguous shards of
``shard_size`` rows. Each shard's embeddings go to ``dense/shards/shard-NNNNN.npy``,
written to a temporary name and renamed, so a file that exists is complete: a killed
build rerun encodes only the shards that are missing, and merging reads them in row
order. The same function encodes a shard locally (:func:`encode_missing`) or inside a Ray
Data actor (:mod:`setsel.distributed.index`).

Example:
    >>> plan_shards(10, 4)
    [ShardSpec(index=0, start=0, stop=4), ShardSpec(index=1, start=4, stop=8), ShardSpec(index=2, start=8, stop=10)]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ShardSpec:
    """Rows ``[start, stop)`` of the passages file, stored as shard ``index``."""

    index: int
    start: int
    stop: int


def plan_shards(n_rows: int, shard_size: int) -> list[ShardSpec]:
    if shard_size < 1:
        raise ValueError(f"shard_size must be ≥ 1, got {shard_size}")
    return [ShardSpec(i, s, min(s + shard_size, n_rows)) for i, s in enumerate(range(0, n_rows, shard_size))]


def shard_path(shard_dir: str | Path, spec: ShardSpec) -> Path:
    return Path(shard_dir) / f"shard-{spec.index:05d}.npy"


def missing_shards(shard_dir: str | Path, plan: list[ShardSpec]) -> list[ShardSpec]:
    """The shards of ``plan`` with no finished file (a finished file has the right row count)."""
    out = []
    for spec in plan:
        path = shard_path(shard_dir, spec)
        if not path.exists():
            out.append(spec)
            continue
        try:
            rows = np.load(path, mmap_mode="r").shape[0]
        except (ValueError, OSError):
            rows = -1
        if rows != spec.stop - spec.start:
            path.unlink()  # a truncated file from a crashed writer of an older version: redo it
            out.append(spec)
    return out


def passage_text(title: str, text: str) -> str:
    """What is indexed for a passage: ``title: text`` (the text alone without a title)."""
    return f"{title}: {text}" if title else text


def encode_shard(encoder: Any, passages_path: str | Path, spec: ShardSpec, shard_dir: str | Path) -> int:
    """Embed rows ``[spec.start, spec.stop)`` and write the shard file atomically; returns rows written."""
    from setsel.retrieval.corpus import read_passages

    passages = read_passages(passages_path, spec.start, spec.stop)
    vecs = encoder.encode([passage_text(p.title, p.text) for p in passages], kind="passage")
    path = shard_path(shard_dir, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, np.ascontiguousarray(vecs, dtype=np.float32))
    tmp.replace(path)
    return len(passages)


def encode_missing(encoder: Any, passages_path: str | Path, plan: list[ShardSpec], shard_dir: str | Path,
                   progress: bool = True) -> int:
    """Encode every missing shard in this process (a progress bar counts passages); returns shards done."""
    from tqdm.auto import tqdm

    todo = missing_shards(shard_dir, plan)
    with tqdm(total=sum(s.stop - s.start for s in todo), unit="passage", desc="embedding",
              disable=not progress or not todo) as bar:
        for spec in todo:
            bar.update(encode_shard(encoder, passages_path, spec, shard_dir))
    return len(todo)


def load_shards(shard_dir: str | Path, plan: list[ShardSpec]) -> list[np.ndarray]:
    """Every shard of ``plan`` in row order (memory-mapped)."""
    missing = missing_shards(shard_dir, plan)
    if missing:
        raise FileNotFoundError(f"{shard_dir}: {len(missing)} embedding shards missing (first: shard {missing[0].index})")
    return [np.load(shard_path(shard_dir, s), mmap_mode="r") for s in plan]
