"""Request/response models, limits and app config of the selector endpoint (no Ray here).

The Serve app (:mod:`setsel.distributed.serve`) validates every request in two steps:
pydantic checks shape and types (FastAPI answers 422 with a JSON body), then
:func:`check_limits` applies the configured size limits (413 for too many passages or an
oversized body, 422 for over-long fields). Everything here is importable without Ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from setsel.types import Candidates, Passage, Query


@dataclass
class Limits:
    """Request limits; every one is enforced with a 4xx and a JSON error body."""

    max_passages: int = 100
    max_passage_chars: int = 20_000
    max_title_chars: int = 1_000
    max_question_chars: int = 2_000
    max_body_bytes: int = 2_000_000
    max_k: int = 100


@dataclass
class Batching:
    """``@serve.batch`` settings; ``max_batch_size: 1`` turns batching off."""

    max_batch_size: int = 8
    batch_wait_timeout_s: float = 0.05


@dataclass
class ServeAppConfig:
    """The ``args`` of the Serve application (configs/serve.yaml).

    ``method``/``variant`` are the defaults a request may override (within
    ``allowed_methods``); ``selector_options`` go to every selector; ``index`` enables
    ``/v1/search``.
    """

    model: str = "hf:smollm2-135m"
    method: str = "llm_head"
    variant: str | None = None
    allowed_methods: list[str] = field(default_factory=lambda: ["llm_head", "setr", "optiset", "topk", "mmr",
                                                                "listwise"])
    selector_options: dict[str, Any] = field(default_factory=dict)
    engine_options: dict[str, Any] = field(default_factory=dict)
    index: str | None = None
    api_key_env: str = "SETSEL_API_KEY"
    retry_after_s: int = 5
    limits: Limits = field(default_factory=Limits)
    batching: Batching = field(default_factory=Batching)


class PassageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=512)
    title: str = ""
    text: str


class SelectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    passages: list[PassageIn] = Field(min_length=1)
    method: str | None = None
    variant: str | None = None
    max_passages: int | None = Field(default=None, ge=1)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1)
    k: int = Field(default=20, ge=1)
    method: str | None = None
    variant: str | None = None
    max_passages: int | None = Field(default=None, ge=1)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class SelectResponse(BaseModel):
    selected: list[str]
    passages: list[PassageIn]
    parse_status: str
    fallback_used: str | None
    method: str
    usage: Usage
    latency_ms: float


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


class LimitError(Exception):
    """A request over a configured limit: ``status`` is 413 or 422."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_limits(req: SelectRequest | SearchRequest, limits: Limits, allowed_methods: list[str]) -> None:
    """Raise :class:`LimitError` if ``req`` breaks a limit or names a method not served."""
    if len(req.question) > limits.max_question_chars:
        raise LimitError(422, f"question has {len(req.question)} characters; the limit is {limits.max_question_chars}")
    if not req.question.strip():
        raise LimitError(422, "question is blank")
    if req.method is not None and req.method not in allowed_methods:
        raise LimitError(422, f"method {req.method!r} is not served here; allowed: {allowed_methods}")
    if req.max_passages is not None and req.max_passages > limits.max_passages:
        raise LimitError(422, f"max_passages={req.max_passages} is over the limit of {limits.max_passages}")
    if isinstance(req, SearchRequest):
        if req.k > limits.max_k:
            raise LimitError(422, f"k={req.k} is over the limit of {limits.max_k}")
        return
    if len(req.passages) > limits.max_passages:
        raise LimitError(413, f"{len(req.passages)} passages; the limit is {limits.max_passages}")
    ids = [p.id for p in req.passages]
    if len(set(ids)) != len(ids):
        raise LimitError(422, "passage ids must be unique")
    for p in req.passages:
        if len(p.text) > limits.max_passage_chars:
            raise LimitError(422, f"passage {p.id!r} has {len(p.text)} characters; the limit is {limits.max_passage_chars}")
        if len(p.title) > limits.max_title_chars:
            raise LimitError(422, f"passage {p.id!r} title is over {limits.max_title_chars} characters")


def to_candidates(req: SelectRequest, query_id: str) -> Candidates:
    """A validated request as a :class:`Candidates` (order kept)."""
    return Candidates(
        query=Query(id=query_id, question=req.question),
        passages=[Passage(id=p.id, title=p.title, text=p.text) for p in req.passages],
        retriever="request",
    )
