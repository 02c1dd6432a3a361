"""Index directories: BM25, dense and hybrid builds on real text; manifest, checksums, encoder checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.data import write_jsonl

from setsel.retrieval.index import IndexLoadError, build_index, load_index, read_manifest


def _recall(cands, k):
    hits = [len(set(c.ids[:k]) & set(c.query.gold_passage_ids)) / len(c.query.gold_passage_ids)
            for c in cands if c.query.gold_passage_ids]
    return sum(hits) / len(hits)


def test_bm25_finds_the_passage_with_the_query_terms(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [
        {"id": "cat", "title": "Cats", "text": "The cat sat on the mat all afternoon."},
        {"id": "run", "title": "Running", "text": "Dogs were running through the park."},
        {"id": "ham", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"id": "big", "title": "Huge", "text": "filler " * 200_000 + "zebra"},   # a 1.4 MB passage
    ])
    m = build_index(src, tmp_path / "idx", retriever="bm25", progress=False)
    assert m["retriever"] == "bm25" and m["count"] == 4 and "encoder" not in m
    idx = load_index(tmp_path / "idx")
    res = idx.search(["Who wrote the tragedy Hamlet?", "the dog runs", "zebra", "qqqq unknownword"], k=3)
    assert res[0].ids[0] == "ham" and res[0].retriever == "bm25"
    assert res[1].ids[0] == "run"          # stemming: runs ~ running, dog ~ dogs
    assert res[2].ids == ["big"]           # zero-score hits are not returned
    assert res[3].ids == []
    assert res[0].scores == sorted(res[0].scores, reverse=True)
    assert res[0].passages[0].text.startswith("Hamlet is a tragedy")


def test_bm25_without_stemming_misses_inflections(tmp_path):
    src = write_jsonl(tmp_path / "c.jsonl", [{"id": "run", "text": "Dogs were running"}, {"id": "x", "text": "cats"}])
    build_index(src, tmp_path / "idx", retriever="bm25", bm25={"stemmer": None}, progress=False)
    assert load_index(tmp_path / "idx").search(["runs"], k=2)[0].ids == []


def test_bm25_recall_on_pooled_hotpotqa(tmp_path, data_dir):
    from setsel.datasets import load_dataset
    from setsel.retrieval.corpus import pool_candidates, write_passages

    pooled = pool_candidates(load_dataset("hotpotqa-ircot"))
    write_passages(pooled.passages, tmp_path / "corpus.parquet")
    build_index(tmp_path / "corpus.parquet", tmp_path / "idx", retriever="bm25", progress=False)
    cands = load_index(tmp_path / "idx").search(pooled.queries, k=20)
    assert len(pooled.passages) > 2000
    # random ranking over > 2000 passages would give recall@20 < 0.01
    assert _recall(cands, 20) > 0.6 and _recall(cands, 5) > 0.4


def test_load_errors(tmp_path, demo_corpus):
    with pytest.raises(IndexLoadError, match="no such index directory"):
        load_index(tmp_path / "nope")
    build_index(demo_corpus / "corpus.parquet", tmp_path / "idx", retriever="bm25", progress=False)
    manifest = read_manifest(tmp_path / "idx")
    assert set(manifest["files"]) >= {"passages.parquet", "bm25/bm25.json"}
    # a flipped byte in a stored file
    target = tmp_path / "idx" / "bm25" / "bm25.json"
    target.write_text(target.read_text().replace("lucene", "LUCENE"))
    with pytest.raises(IndexLoadError, match="bm25/bm25.json is corrupt"):
        load_index(tmp_path / "idx")
    # a missing file
    target.unlink()
    with pytest.raises(IndexLoadError, match="bm25/bm25.json .* missing"):
        load_index(tmp_path / "idx")
    # unfinished build (no manifest), and a future format
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(IndexLoadError, match="format 99 is not supported"):
        load_index(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").unlink()
    with pytest.raises(IndexLoadError, match="unfinished build"):
        load_index(tmp_path / "idx")


def test_a_different_build_in_out_is_refused(tmp_path, demo_corpus):
    build_index(demo_corpus / "corpus.parquet", tmp_path / "idx", retriever="bm25", progress=False)
    with pytest.raises(IndexLoadError, match="holds another index"):
        build_index(demo_corpus / "corpus.parquet", tmp_path / "idx", retriever="bm25",
                    bm25={"stemmer": None}, progress=False)
    m = build_index(demo_corpus / "corpus.parquet", tmp_path / "idx", retriever="bm25",
                    bm25={"stemmer": None}, overwrite=True, progress=False)
    assert m["bm25"]["stemmer"] is None
    (tmp_path / "empty.jsonl").write_text('{"id": "a", "text": ""}\n')
    with pytest.raises(IndexLoadError, match="no non-empty passages"):
        build_index(tmp_path / "empty.jsonl", tmp_path / "idx2", retriever="bm25", progress=False)


@pytest.mark.slow
def test_dense_and_hybrid_on_the_demo_corpus(tmp_path, demo_corpus, demo_pooled):
    from setsel.retrieval.encoders import load_encoder

    enc = load_encoder("minilm")
    m = build_index(demo_corpus / "corpus.parquet", tmp_path / "dense", retriever="dense", shard_size=16,
                    progress=False)
    assert m["encoder"]["name"] == "minilm" and m["encoder"]["dim"] == 384 and m["factory"] == "Flat"
    assert len(list((tmp_path / "dense" / "dense" / "shards").glob("*.npy"))) == 3   # 41 rows / 16
    dense = load_index(tmp_path / "dense")
    res = dense.search(demo_pooled.queries, k=5)
    # scores are cosines of the query with the returned passages, best first
    q = enc.encode([demo_pooled.queries[0].question], kind="query")[0]
    p = enc.encode([f"{x.title}: {x.text}" for x in res[0].passages], kind="passage")
    np.testing.assert_allclose(res[0].scores, p @ q, rtol=1e-4, atol=1e-5)
    assert res[0].scores == sorted(res[0].scores, reverse=True)
    assert _recall(res, 5) > 0.5

    build_index(demo_corpus / "corpus.parquet", tmp_path / "hybrid", retriever="hybrid", progress=False)
    hybrid = load_index(tmp_path / "hybrid", encoder=enc)
    assert hybrid.name == "hybrid:minilm"
    hres = hybrid.search(demo_pooled.queries, k=5)
    assert _recall(hres, 5) > 0.5
    assert all(len(c.ids) == 5 for c in hres)

    # the wrong encoder is refused, by name and by object
    with pytest.raises(IndexLoadError, match="built with encoder 'minilm'"):
        load_index(tmp_path / "dense", encoder="bge-base")

    class Other:
        spec = type("S", (), {"name": "minilm"})()
        dim = 8

    with pytest.raises(IndexLoadError, match=r"dim 384\), got 'minilm' \(dim 8\)"):
        load_index(tmp_path / "dense", encoder=Other())


@pytest.mark.slow
def test_ivf_and_hnsw_factories_search_like_flat(tmp_path):
    from setsel.retrieval.dense import DenseIndexError, build_faiss, search_faiss

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 32)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:20] + 0.01 * rng.normal(size=(20, 32)).astype("float32")
    flat = search_faiss(build_faiss(x, "Flat", gpu="false"), q, 1)
    for factory in ("IVF16,Flat", "HNSW32"):
        approx = search_faiss(build_faiss([x[:1000], x[1000:]], factory, gpu="false"), q, 1, nprobe=16)
        assert [r[0] for r, _ in approx] == [r[0] for r, _ in flat] == list(range(20))
    with pytest.raises(DenseIndexError, match="bad FAISS factory"):
        build_faiss(x, "NotAnIndex", gpu="false")
    with pytest.raises(DenseIndexError, match="training vectors"):
        build_faiss(x[:10], "IVF64,Flat", gpu="false")
    from setsel.retrieval.dense import gpu_available

    if not gpu_available():  # asking for a GPU that is not there is an error, not a silent CPU run
        with pytest.raises(DenseIndexError, match="gpu=true"):
            build_faiss(x, "Flat", gpu="true")
