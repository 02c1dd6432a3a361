"""The index and retrieve jobs as plain functions plus configs (``setsel index`` / ``setsel
retrieve`` and ``python -m jobs.index`` / ``jobs.retrieve`` call these).

- :class:`IndexJobConfig` / :func:`run_index`: a corpus file (``corpus``), or a benchmark
  pooled into one (``dataset``: every candidate paragraph de-duplicated, gold labels mapped;
  writes ``<out>/corpus.parquet`` and ``<out>/queries.jsonl``), indexed into ``out``.
  With ``ray.enabled`` the embedding shards are encoded by a Ray Data actor pool: the entry
  layer (:func:`setsel.distributed.stages.run_index`) passes that runner in as ``shard_runner``.
- :class:`RetrieveJobConfig` / :func:`run_retrieve`: queries (a file, or the index's own
  ``queries.jsonl``) → top-``k`` :class:`~setsel.types.Candidates` Parquet that ``setsel
  eval --dataset jsonl`` and ``setsel select`` read. With ``ray.enabled`` the queries are
  fanned out over retriever actors (``search`` from :func:`setsel.distributed.stages.run_retrieve`).

This module never imports Ray: the local-or-Ray choice is made once, at the entry
(``setsel index`` / ``retrieve``, ``jobs.index`` / ``jobs.retrieve``), which calls
:mod:`setsel.distributed.stages`; called directly with ``ray.enabled`` and no runner, these
functions refuse rather than silently run locally.

Example:
    >>> run_index(IndexJobConfig(dataset="hotpotqa-ircot", out="runs/idx"))               # doctest: +SKIP
    >>> run_retrieve(RetrieveJobConfig(index="runs/idx", out="runs/cands.parquet", k=20))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from setsel.config import ConfigError, RayConfig
from setsel.retrieval.index import IndexSettings

RayRetrievalConfig = RayConfig
"""The index and retrieve jobs' ``ray:`` block: :class:`setsel.config.RayConfig` (off by default
in the CLI; the ``jobs.*`` entry points turn it on)."""


@dataclass
class IndexJobConfig(IndexSettings):
    """One index build (the ``setsel index`` flags): the build settings plus input and output."""

    out: str = "runs/index"
    corpus: str | None = None
    dataset: str | None = None
    data: str | None = None
    qa: str | None = None
    limit: int | None = None
    overwrite: bool = False
    progress: bool = True
    ray: RayConfig = field(default_factory=RayConfig)

    def __post_init__(self) -> None:
        if (self.corpus is None) == (self.dataset is None):
            raise ConfigError("give exactly one of corpus (a passages file) or dataset (a benchmark to pool)")
        try:
            super().__post_init__()
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None

    def settings(self) -> IndexSettings:
        return IndexSettings(**{f.name: getattr(self, f.name) for f in fields(IndexSettings)})


@dataclass
class RetrieveJobConfig:
    """One retrieval run (the ``setsel retrieve`` flags)."""

    index: str = "runs/index"
    queries: str | None = None          # None: <index>/queries.jsonl (written by a pooled build)
    out: str = "runs/candidates.parquet"
    k: int = 20
    limit: int | None = None
    batch_size: int = 64
    encoder_path: str | None = None
    verify: bool = True
    progress: bool = True
    ray: RayConfig = field(default_factory=RayConfig)

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be an int ≥ 1, got {self.k!r}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {self.batch_size}")

    def queries_path(self) -> Path:
        return Path(self.queries) if self.queries else Path(self.index) / "queries.jsonl"


Search = Callable[["RetrieveJobConfig", list], list]
"""``(cfg, queries) -> [Candidates, ...]`` in query order: how :func:`run_retrieve` searches."""


def _needs_runner(what: str, entry: str) -> ConfigError:
    return ConfigError(f"ray.enabled is set but no Ray {what} was given: run through "
                       f"setsel.distributed.stages.{entry} (as `setsel {entry.removeprefix('run_')}` and "
                       f"jobs.{entry.removeprefix('run_')} do), or set ray.enabled=false")


def run_index(cfg: IndexJobConfig, shard_runner: Any = None) -> dict[str, Any]:
    """Pool (if ``dataset``) and build the index; returns the manifest plus ``wall_s``.

    ``shard_runner``: how the embedding shards are encoded (:func:`setsel.retrieval.index.build_index`);
    ``None`` = in this process (required to be given when ``cfg.ray.enabled``)."""
    if cfg.ray.enabled and shard_runner is None:
        raise _needs_runner("shard runner", "run_index")
    from setsel.retrieval.corpus import pool_candidates, write_passages, write_queries
    from setsel.retrieval.index import build_index

    start = time.perf_counter()
    out = Path(cfg.out)
    corpus = Path(cfg.corpus) if cfg.corpus else None
    if corpus is None:
        from setsel.datasets import load_dataset

        pooled = pool_candidates(load_dataset(cfg.dataset, cfg.data, cfg.qa, cfg.limit))
        staging = out.with_name(out.name + ".pooled")
        corpus = staging / "corpus.parquet"
        if not corpus.exists():
            write_passages(pooled.passages, corpus)
        write_queries(pooled.queries, staging / "queries.jsonl")
    manifest = build_index(corpus, out, cfg.settings(), shard_runner=shard_runner, overwrite=cfg.overwrite,
                           progress=cfg.progress)
    if cfg.dataset:
        import shutil

        shutil.copyfile(corpus.parent / "queries.jsonl", out / "queries.jsonl")
    manifest["wall_s"] = time.perf_counter() - start
    return manifest


def run_retrieve(cfg: RetrieveJobConfig, search: Search | None = None) -> dict[str, Any]:
    """Retrieve for every query and write the Candidates file; returns a summary.

    ``search``: ``(cfg, queries) -> candidates``; ``None`` = :func:`retrieve_local` (required
    to be given when ``cfg.ray.enabled``)."""
    if cfg.ray.enabled and search is None:
        raise _needs_runner("search", "run_retrieve")
    from setsel.io import write_records
    from setsel.retrieval.corpus import read_queries

    from setsel.retrieval.index import read_manifest

    start = time.perf_counter()
    manifest = read_manifest(cfg.index)  # a bad index fails first (and never inside an actor)
    queries = read_queries(cfg.queries_path())
    if cfg.limit is not None:
        queries = queries[: cfg.limit]
    candidates = (search or retrieve_local)(cfg, queries)
    write_records(cfg.out, candidates, extra_metadata={"index": str(cfg.index), "k": cfg.k,
                                                       "retriever": manifest["retriever"],
                                                       "encoder": manifest.get("encoder", {}).get("id")})
    return {"queries": len(candidates), "k": cfg.k, "out": str(cfg.out), "wall_s": time.perf_counter() - start,
            "retriever": manifest["retriever"]}


def retrieve_local(cfg: RetrieveJobConfig, queries: list) -> list:
    """Search ``queries`` in batches of ``cfg.batch_size`` with a progress bar."""
    from tqdm.auto import tqdm

    from setsel.retrieval.index import load_index

    index = load_index(cfg.index, verify=cfg.verify, encoder_path=cfg.encoder_path)
    out = []
    with tqdm(total=len(queries), unit="query", desc="retrieving", disable=not cfg.progress) as bar:
        for i in range(0, len(queries), cfg.batch_size):
            batch = queries[i: i + cfg.batch_size]
            out.extend(index.search(batch, k=cfg.k))
            bar.update(len(batch))
    return out
