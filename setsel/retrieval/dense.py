"""Dense retrieval: encoder embeddings in a FAISS inner-product index.

``factory`` is a FAISS ``index_factory`` string over inner product (embeddings are
L2-normalised by the encoders that say so, making IP = cosine):

- ``Flat`` (default): exact search; right up to a few million passages.
- ``IVF<nlist>,Flat`` / ``IVF<nlist>,PQ<m>``: inverted lists, trained on a sample of the
  embeddings; searched with ``nprobe`` lists. ``auto`` picks ``Flat`` below 200k passages
  and ``IVF<4·√n>,Flat`` above.
- ``HNSW32``: graph index, no training; ``ef_search`` trades speed for recall.

``gpu``: ``auto`` (use every GPU when the faiss-gpu build and a GPU exist), ``true`` (an
error if they do not), ``false``. The index is always stored as a CPU index.

Example:
    >>> idx = build_faiss(np.eye(3, dtype="float32"))      # doctest: +SKIP
    >>> search_faiss(idx, np.eye(3, dtype="float32")[:1], k=2)[0][0]   # doctest: +SKIP
    [0, 1]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


class DenseIndexError(RuntimeError):
    """A bad factory string, an unavailable GPU, or embeddings of the wrong shape."""


def resolve_factory(factory: str, n: int) -> str:
    """``auto`` → ``Flat`` (n < 200k) or ``IVF<4√n>,Flat``; anything else unchanged."""
    if factory != "auto":
        return factory
    if n < 200_000:
        return "Flat"
    return f"IVF{int(4 * math.sqrt(n))},Flat"


def gpu_available() -> bool:
    """True when this faiss is the GPU build and sees at least one GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _use_gpu(gpu: str | bool) -> bool:
    if gpu in (False, "false", "no", None):
        return False
    available = gpu_available()
    if gpu in (True, "true", "yes") and not available:
        raise DenseIndexError("gpu=true but faiss has no GPU support here (install faiss-gpu-cu12 on a GPU node)")
    return available


def build_faiss(vectors: np.ndarray | list[np.ndarray], factory: str = "Flat", gpu: str | bool = "auto",
                train_size: int = 262_144, seed: int = 0):
    """A CPU FAISS index over ``vectors`` (one array or shards in order; rows = passage rows)."""
    import faiss

    shards = vectors if isinstance(vectors, list) else [vectors]
    shards = [s for s in shards if len(s)]  # memory-mapped shards stay on disk until added
    if not shards:
        raise DenseIndexError("no embeddings to index")
    dims = {s.shape[1] for s in shards if s.ndim == 2}
    if len(dims) != 1 or any(s.ndim != 2 for s in shards):
        raise DenseIndexError(f"embeddings must be 2-D with one dimension; got dims {sorted(dims)}")
    dim = dims.pop()
    n = sum(len(s) for s in shards)
    spec = resolve_factory(factory, n)
    try:
        index = faiss.index_factory(dim, spec, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        raise DenseIndexError(f"bad FAISS factory {spec!r}: {exc}") from None
    gpu_index = None
    if _use_gpu(gpu) and not spec.startswith("HNSW"):
        gpu_index = faiss.index_cpu_to_all_gpus(index)
    target = gpu_index if gpu_index is not None else index
    if not target.is_trained:
        nlist = faiss.extract_index_ivf(index).nlist if "IVF" in spec else 1
        size = min(n, max(train_size, 64 * nlist))  # FAISS wants ≥ 39 training vectors per list
        if size < nlist:
            raise DenseIndexError(f"{spec}: {size} training vectors for {nlist} lists; use fewer lists or Flat")
        target.train(_sample_rows(shards, size, seed))
    for s in shards:
        target.add(np.ascontiguousarray(s, dtype=np.float32))  # one shard in memory at a time
    return faiss.index_gpu_to_cpu(gpu_index) if gpu_index is not None else index


def _sample_rows(shards: list[np.ndarray], size: int, seed: int) -> np.ndarray:
    """``size`` rows drawn uniformly from the (memory-mapped) shards without concatenating them."""
    n = sum(len(s) for s in shards)
    picks = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)) if size < n else np.arange(n)
    out, start = [], 0
    for s in shards:
        local = picks[(picks >= start) & (picks < start + len(s))] - start
        if len(local):
            out.append(np.asarray(s[local], dtype=np.float32))
        start += len(s)
    return np.ascontiguousarray(np.concatenate(out))


def search_faiss(index, queries: np.ndarray, k: int, nprobe: int = 32, ef_search: int = 128,
                 gpu_index=None) -> list[tuple[list[int], list[float]]]:
    """Top-``k`` ``(rows, scores)`` per query row, best first (missing hits removed)."""
    import faiss

    if len(queries) == 0:
        return []
    k = min(int(k), index.ntotal)
    if k <= 0:
        return [([], []) for _ in range(len(queries))]
    target = gpu_index if gpu_index is not None else index
    if hasattr(faiss, "extract_index_ivf"):
        try:
            faiss.extract_index_ivf(target).nprobe = nprobe
        except (RuntimeError, AttributeError):
            pass
    if hasattr(target, "hnsw"):
        target.hnsw.efSearch = max(ef_search, k)
    scores, rows = target.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    out = []
    for r, s in zip(rows, scores):
        keep = r >= 0
        out.append(([int(i) for i in r[keep]], [float(x) for x in s[keep]]))
    return out


def to_gpu(index, gpu: str | bool = "auto"):
    """A GPU copy of ``index`` for searching, or None (no GPU / not requested)."""
    import faiss

    return faiss.index_cpu_to_all_gpus(index) if _use_gpu(gpu) and not hasattr(index, "hnsw") else None


def save_faiss(index, path: str | Path) -> Path:
    import faiss

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(tmp))
    tmp.replace(path)
    return path


def load_faiss(path: str | Path, mmap: bool = False):
    import faiss

    flags = faiss.IO_FLAG_MMAP if mmap else 0
    return faiss.read_index(str(path), flags)
