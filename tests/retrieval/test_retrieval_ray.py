"""The Ray Data paths: shard encoding on an actor pool and retrieval fan-out (local Ray, 127.0.0.1)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_ray_index_and_retrieve_match_the_local_paths(tmp_path, ray_local, demo_corpus):
    from setsel.retrieval.corpus import read_queries
    from setsel.distributed.stages import run_index, run_retrieve
    from setsel.retrieval.job import IndexJobConfig, RayRetrievalConfig, RetrieveJobConfig
    from setsel.retrieval.index import load_index
    from setsel.io import read_candidates

    ray_cfg = RayRetrievalConfig(enabled=True, num_actors=2)
    m = run_index(IndexJobConfig(corpus=str(demo_corpus / "corpus.parquet"), out=str(tmp_path / "ray_idx"),
                                 retriever="hybrid", shard_size=8, progress=False, ray=ray_cfg))
    assert m["count"] == 41
    assert len(list((tmp_path / "ray_idx" / "dense" / "shards").glob("shard-*.npy"))) == 6
    local = run_index(IndexJobConfig(corpus=str(demo_corpus / "corpus.parquet"), out=str(tmp_path / "idx"),
                                     retriever="hybrid", shard_size=8, progress=False))
    a = load_index(tmp_path / "ray_idx").faiss_index.reconstruct_n(0, 41)
    b = load_index(tmp_path / "idx").faiss_index.reconstruct_n(0, 41)
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert local["files"]["passages.parquet"] == m["files"]["passages.parquet"]

    queries = demo_corpus / "queries.jsonl"
    run_retrieve(RetrieveJobConfig(index=str(tmp_path / "ray_idx"), queries=str(queries), k=6,
                                   out=str(tmp_path / "ray.parquet"), batch_size=4, progress=False, ray=ray_cfg))
    run_retrieve(RetrieveJobConfig(index=str(tmp_path / "idx"), queries=str(queries), k=6,
                                   out=str(tmp_path / "local.parquet"), progress=False))
    got, want = read_candidates(tmp_path / "ray.parquet"), read_candidates(tmp_path / "local.parquet")
    assert [c.query.id for c in got] == [q.id for q in read_queries(queries)]
    assert [c.ids for c in got] == [c.ids for c in want]


def test_domain_functions_refuse_ray_configs_without_a_runner(tmp_path, demo_corpus):
    """The local-or-Ray choice is made at the entry (setsel.distributed.stages): called
    directly with ray.enabled and no runner, the domain functions refuse instead of silently
    running in this process — and start no Ray."""
    from setsel.config import ConfigError
    from setsel.retrieval.job import IndexJobConfig, RayRetrievalConfig, RetrieveJobConfig, run_index, run_retrieve

    ray_cfg = RayRetrievalConfig(enabled=True)
    with pytest.raises(ConfigError, match="setsel.distributed.stages.run_index"):
        run_index(IndexJobConfig(corpus=str(demo_corpus / "corpus.parquet"), out=str(tmp_path / "i"), ray=ray_cfg))
    with pytest.raises(ConfigError, match="setsel.distributed.stages.run_retrieve"):
        run_retrieve(RetrieveJobConfig(index=str(tmp_path / "i"), out=str(tmp_path / "c.parquet"), ray=ray_cfg))
    assert not (tmp_path / "i").exists()
