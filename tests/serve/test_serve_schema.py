"""Limit checks of the selector endpoint, without Ray."""

import pytest

from setsel.config import ConfigError, build_config
from setsel.distributed.serve_schema import (
    LimitError,
    Limits,
    SearchRequest,
    SelectRequest,
    ServeAppConfig,
    check_limits,
    to_candidates,
)

ALLOWED = ["setr", "topk"]


def _req(n=3, text="x", **kw):
    return SelectRequest(question=kw.pop("question", "Who?"),
                         passages=[{"id": f"p{i}", "title": "t", "text": text} for i in range(n)], **kw)


def test_within_limits_passes_and_converts():
    req = _req(3)
    check_limits(req, Limits(), ALLOWED)
    cands = to_candidates(req, "r1")
    assert cands.ids == ["p0", "p1", "p2"] and cands.query.question == "Who?"


@pytest.mark.parametrize(
    "req,limits,status",
    [
        (_req(101), Limits(), 413),
        (_req(3), Limits(max_passages=2), 413),
        (_req(1, text="y" * 11), Limits(max_passage_chars=10), 422),
        (_req(1, question="q" * 30), Limits(max_question_chars=20), 422),
        (_req(1, question="   "), Limits(), 422),
        (_req(1, method="optiset"), Limits(), 422),
    ],
)
def test_limit_errors(req, limits, status):
    with pytest.raises(LimitError) as info:
        check_limits(req, limits, ALLOWED)
    assert info.value.status == status


def test_duplicate_ids_rejected():
    req = SelectRequest(question="q", passages=[{"id": "a", "text": "1"}, {"id": "a", "text": "2"}])
    with pytest.raises(LimitError, match="unique"):
        check_limits(req, Limits(), ALLOWED)


def test_search_k_limit():
    with pytest.raises(LimitError):
        check_limits(SearchRequest(question="q", k=500), Limits(max_k=100), ALLOWED)


def test_app_config_unknown_key_names_it():
    with pytest.raises(ConfigError, match="limits.max_passagez"):
        build_config(ServeAppConfig, {"limits": {"max_passagez": 3}})
    cfg = build_config(ServeAppConfig, {"batching": {"max_batch_size": 1}, "model": "hf:x"})
    assert cfg.batching.max_batch_size == 1 and cfg.limits.max_passages == 100


def test_max_passages_over_the_limit_is_422_naming_it():
    req = SelectRequest(question="q", passages=[{"id": "a", "text": "x"}], max_passages=10**30)
    with pytest.raises(LimitError, match="max_passages=1000000000000000000000000000000 is over the limit of 100") as e:
        check_limits(req, Limits(max_passages=100), ALLOWED)
    assert e.value.status == 422
    check_limits(SelectRequest(question="q", passages=[{"id": "a", "text": "x"}], max_passages=100),
                 Limits(max_passages=100), ALLOWED)
    with pytest.raises(LimitError, match="over the limit of 8"):
        check_limits(SearchRequest(question="q", k=5, max_passages=9), Limits(max_passages=8), ALLOWED)
