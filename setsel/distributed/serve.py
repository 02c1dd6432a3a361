"""Ray Serve selector endpoint: FastAPI ingress, dynamic batching, limits, auth.

Routes:
- ``POST /v1/select`` {question, passages:[{id,title,text}], method?, variant?, max_passages?}
  → {selected, passages, parse_status, fallback_used, method, usage, latency_ms}
- ``POST /v1/search`` {question, k, method?, …} — retrieve from the configured index, then select
- ``GET /healthz``, ``GET /v1/models``, ``GET /openapi.json`` (FastAPI)

Requests are batched with ``@serve.batch`` (size and wait from config) and each batch is
grouped by (method, variant, max_passages) into one batched ``Selector.select`` call,
run in a worker thread so the replica keeps answering ``/healthz`` meanwhile. An engine
failure answers 503 with ``Retry-After``; the replica keeps serving. With
``$SETSEL_API_KEY`` set, every route but ``/healthz`` needs ``Authorization: Bearer <key>``.

Run: ``serve run configs/serve.yaml`` or ``setsel serve --config configs/serve.yaml``.
"""

# No `from __future__ import annotations`: FastAPI must see real types through Serve's ingress.

import asyncio
import hmac
import itertools
import logging
import os
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from ray import serve

from setsel.config import build_config  # dataclass builder with unknown-key errors
from setsel.distributed.serve_proxy import APP_HEADER
from setsel.distributed.serve_schema import (
    LimitError,
    PassageIn,
    SearchRequest,
    SelectRequest,
    SelectResponse,
    ServeAppConfig,
    Usage,
    check_limits,
    to_candidates,
)
from setsel.selection.base import SelectorError
from setsel.types import Candidates, Selection

log = logging.getLogger("setsel.serve")


def _uses_llm(method: str) -> bool:
    from setsel.selection import get_selector_class

    return bool(getattr(get_selector_class(method), "uses_llm", False))

api = FastAPI(title="setsel selector", version="1", description="Set-wise passage selection for RAG.")


def _error(status: int, message: str, headers: dict[str, str] | None = None, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(status_code=status, content=body, headers=headers)


@api.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Only JSON-safe parts of the pydantic errors (inputs may be arbitrary bytes).
    detail = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
    return _error(422, "invalid request", detail=detail)


@api.exception_handler(Exception)
async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug in this app stays a 500. Starlette answers it outside _MarkResponses, so it is marked
    # here (the proxy's ReplicaLossAs503 rewrites only unmarked 500s).
    log.exception("unexpected error on %s", request.url.path)
    return _error(500, f"internal error: {type(exc).__name__}", headers={APP_HEADER: api.version})


@api.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # e.g. a body that is not UTF-8 (400), unknown routes (404), wrong methods (405).
    return _error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))


class _BodyLimit:
    """ASGI middleware: 413 for bodies over the limit (Content-Length or streamed size)."""

    def __init__(self, app):
        self.app = app

    @property
    def max_bytes(self) -> int:
        return _STATE["max_body_bytes"]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _error(413, f"body over {self.max_bytes} bytes")(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            return await self.app(scope, limited_receive, send)
        except _TooLarge:
            return await _error(413, f"body over {self.max_bytes} bytes")(scope, receive, send)


class _TooLarge(Exception):
    pass


class _MarkResponses:
    """ASGI middleware: every response this app writes carries ``x-setsel`` (``APP_HEADER``), so
    the proxy can tell a lost replica (an unmarked 500 → 503, :mod:`setsel.distributed.serve_proxy`)
    from an answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def marked(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (APP_HEADER.encode(), api.version.encode())]}
            await send(message)

        return await self.app(scope, receive, marked)


# Set by each replica from its config (the ASGI app runs inside the replica process).
_STATE: dict[str, int] = {"max_body_bytes": 2_000_000}
api.add_middleware(_BodyLimit)
api.add_middleware(_MarkResponses)


@serve.deployment(name="Selector")
@serve.ingress(api)
class SelectorDeployment:
    """One replica: an engine, cached selectors, and the batched select path."""

    def __init__(self, config: dict[str, Any] | ServeAppConfig):
        self.cfg = config if isinstance(config, ServeAppConfig) else build_config(ServeAppConfig, dict(config or {}))
        self._ids = itertools.count()
        self._selectors: dict[tuple, Any] = {}
        self._engine = None
        if any(_uses_llm(m) for m in {self.cfg.method, *self.cfg.allowed_methods}):
            from setsel.engines import load_engine

            self._engine = load_engine(self.cfg.model, **self.cfg.engine_options)
        self._index = None
        if self.cfg.index:
            from setsel.retrieval import load_index

            self._index = load_index(self.cfg.index)
        self._select_batch.set_max_batch_size(self.cfg.batching.max_batch_size)
        self._select_batch.set_batch_wait_timeout_s(self.cfg.batching.batch_wait_timeout_s)
        _STATE["max_body_bytes"] = self.cfg.limits.max_body_bytes

    # ------------------------------------------------------------------ helpers
    def _authorised(self, request: Request) -> bool:
        key = os.environ.get(self.cfg.api_key_env)
        if not key:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {key}".encode())

    def _selector(self, method: str, variant: str | None, max_passages: int | None):
        key = (method, variant, max_passages)
        if key not in self._selectors:
            from setsel.selection import get_selector

            options = dict(self.cfg.selector_options)
            if _uses_llm(method):
                options["engine"] = self._engine
            if variant is not None:
                options["variant"] = variant   # a method without variants rejects it (SelectorError → 422)
            if max_passages is not None:
                options["max_passages"] = max_passages
            self._selectors[key] = get_selector(method, **options)
        return self._selectors[key]

    def _run_groups(self, items: list[tuple[tuple, Candidates]]) -> list[Selection | Exception]:
        results: list[Selection | Exception | None] = [None] * len(items)
        groups: dict[tuple, list[int]] = {}
        for i, (key, _) in enumerate(items):
            groups.setdefault(key, []).append(i)
        for key, idx in groups.items():
            try:
                selections = self._selector(*key).select([items[i][1] for i in idx])
                for i, sel in zip(idx, selections):
                    results[i] = sel
            except Exception as exc:  # engine or selector failure → 503 for this group only
                log.exception("selection failed for %s", key)
                for i in idx:
                    results[i] = exc
        return results  # type: ignore[return-value]

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)
    async def _select_batch(self, items: list[tuple[tuple, Candidates]]) -> list[Selection | Exception]:
        return await asyncio.to_thread(self._run_groups, items)

    async def _select_one(self, req: SelectRequest) -> JSONResponse:
        start = time.perf_counter()
        method = req.method or self.cfg.method
        variant = req.variant if req.variant is not None else (self.cfg.variant if method == self.cfg.method else None)
        try:  # a client mistake (unknown variant, an option the method does not take) is a 422, not an outage
            self._selector(method, variant, req.max_passages)
        except SelectorError as exc:
            return _error(422, str(exc))
        cands = to_candidates(req, query_id=f"r{next(self._ids)}")
        result = await self._select_batch(((method, variant, req.max_passages), cands))
        if isinstance(result, Exception):
            return _error(
                503,
                f"selection backend unavailable: {type(result).__name__}",
                headers={"Retry-After": str(self.cfg.retry_after_s)},
            )
        by_id = {p.id: p for p in req.passages}
        body = SelectResponse(
            selected=result.selected_ids,
            passages=[PassageIn(id=i, title=by_id[i].title, text=by_id[i].text) for i in result.selected_ids],
            parse_status=result.parse_status,
            fallback_used=result.fallback_used,
            method=method,
            usage=Usage(prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens),
            latency_ms=(time.perf_counter() - start) * 1000.0,
        )
        return JSONResponse(body.model_dump())

    # ------------------------------------------------------------------ routes
    @api.get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/v1/models")
    async def models(self, request: Request):
        if not self._authorised(request):
            return _error(401, "missing or wrong bearer token")
        return {
            "model": self.cfg.model,
            "default_method": self.cfg.method,
            "default_variant": self.cfg.variant,
            "methods": self.cfg.allowed_methods,
            "search": self._index is not None,
        }

    @api.post("/v1/select", response_model=SelectResponse)
    async def select(self, req: SelectRequest, request: Request):
        if not self._authorised(request):
            return _error(401, "missing or wrong bearer token")
        try:
            check_limits(req, self.cfg.limits, self.cfg.allowed_methods)
        except LimitError as exc:
            return _error(exc.status, exc.message)
        return await self._select_one(req)

    @api.post("/v1/search", response_model=SelectResponse)
    async def search(self, req: SearchRequest, request: Request):
        if not self._authorised(request):
            return _error(401, "missing or wrong bearer token")
        if self._index is None:
            return _error(404, "no index configured on this endpoint (set `index` in the serve config)")
        try:
            check_limits(req, self.cfg.limits, self.cfg.allowed_methods)
        except LimitError as exc:
            return _error(exc.status, exc.message)
        hits = await asyncio.to_thread(self._index.search, [req.question], req.k)
        passages = [PassageIn(id=p.id, title=p.title, text=p.text) for p in hits[0].passages]
        if not passages:
            return _error(404, "the index returned no passages for this question")
        select_req = SelectRequest(
            question=req.question, passages=passages, method=req.method, variant=req.variant,
            max_passages=req.max_passages,
        )
        return await self._select_one(select_req)



def build_app(args: dict[str, Any] | None = None):
    """Serve application builder (``import_path: setsel.distributed.serve:build_app``).

    ``args`` is the ``ServeAppConfig`` mapping; unknown keys fail here, before deploying.
    """
    cfg = build_config(ServeAppConfig, dict(args or {}))
    return SelectorDeployment.bind(cfg)


app = build_app
