"""Pure pieces of retrieval, checked against hand-computed values."""

from __future__ import annotations

import pytest

from setsel.retrieval.bm25 import BM25Params
from setsel.retrieval.corpus import content_id
from setsel.retrieval.dense import resolve_factory
from setsel.retrieval.fusion import rrf
from setsel.retrieval.shards import ShardSpec, plan_shards


def test_rrf_hand_computed():
    # a: 1/61 + 1/62; b: 1/62 + 1/61; c: 1/63; d: 1/63 (c first: it appeared first)
    fused = rrf([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert [x for x, _ in fused] == ["a", "b", "c", "d"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2][1] == pytest.approx(1 / 63)
    assert rrf([[1, 2, 3]], k=0, limit=2) == [(1, 1.0), (2, 0.5)]
    assert rrf([]) == []
    with pytest.raises(ValueError):
        rrf([[1]], k=-1)


def test_rrf_rewards_agreement_over_one_top_rank():
    # x is 1st in one list only; y is 2nd in both: 2/62 > 1/61
    fused = rrf([["x", "y"], ["z", "y"]], k=60)
    assert fused[0][0] == "y"


def test_plan_shards_covers_rows_once():
    plan = plan_shards(10, 4)
    assert plan == [ShardSpec(0, 0, 4), ShardSpec(1, 4, 8), ShardSpec(2, 8, 10)]
    assert plan_shards(0, 4) == []
    with pytest.raises(ValueError):
        plan_shards(5, 0)


def test_content_id_is_stable_and_whitespace_insensitive_at_edges():
    assert content_id("T", "text") == content_id(" T ", "text\n")
    assert content_id("T", "text") != content_id("T", "text2")
    assert content_id("T", "x").startswith("p-") and len(content_id("T", "x")) == 18


def test_resolve_factory_auto():
    assert resolve_factory("auto", 10_000) == "Flat"
    assert resolve_factory("auto", 1_000_000) == "IVF4000,Flat"
    assert resolve_factory("HNSW32", 5) == "HNSW32"


def test_bm25_params_validated():
    with pytest.raises(ValueError):
        BM25Params(k1=0)
    with pytest.raises(ValueError):
        BM25Params(b=1.5)
    with pytest.raises(TypeError):
        BM25Params(stemer="english")  # a typo is an error, not a silent default
