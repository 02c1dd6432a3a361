"""The Serve HTTP proxy's side of a lost replica: 503 with ``Retry-After``, never a bare 500.

When a replica dies with requests in flight (its node lost, its process killed), Ray Serve's
proxy answers those requests 500 (``RayActorError`` → 500 in
``ray/serve/_private/http_util.py``), which a client reads as a server bug. It is an outage of
one replica: the same request succeeds on another replica or once Serve has replaced it, so
:class:`ReplicaLossAs503`, an ASGI middleware installed in the proxy, turns every 500 the
selector app did not write itself into ``503 {"error": ...}`` with ``Retry-After`` — what a
well-behaved client (``setsel.client``) retries.

The selector app marks each response it writes with the ``x-setsel`` header
(:data:`APP_HEADER`, set in :mod:`setsel.distributed.serve`), including its own 500s for an
unexpected exception, so those pass through unchanged: a bug stays a 500.

Ray 2.60 installs proxy middlewares only through the callback named by
``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH``, read by the proxy process at start
(``http_options.middlewares`` was removed). :data:`setsel.distributed.runtime.LOCAL_ENV` sets it
before a local Ray starts (``setsel serve``, the demo, the tests); a cluster started with
``ray start`` sets it on every node first::

    RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH=setsel.distributed.serve_proxy:proxy_middlewares

Example:
    >>> [m.cls.__name__ for m in proxy_middlewares()]
    ['ReplicaLossAs503']
"""

from __future__ import annotations

import json
import logging
from typing import Any

APP_HEADER = "x-setsel"
"""Header the selector app sets on every response it writes (value: the API version)."""

RETRY_AFTER_S = 5
"""``Retry-After`` of the 503: about the time Serve takes to route around a dead replica."""

log = logging.getLogger("setsel.serve")


class ReplicaLossAs503:
    """ASGI middleware: a 500 without :data:`APP_HEADER` (or no response at all) → 503 + Retry-After.

    Args:
        app: the wrapped ASGI app (the Serve proxy's).
        retry_after_s: the ``Retry-After`` value in seconds.
    """

    def __init__(self, app: Any, retry_after_s: int = RETRY_AFTER_S) -> None:
        self.app = app
        self.retry_after_s = int(retry_after_s)

    def _body(self) -> bytes:
        return json.dumps({"error": "selection replica lost while answering; retry",
                           "retry_after_s": self.retry_after_s}).encode()

    async def _send_503(self, send: Any) -> None:
        body = self._body()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(self.retry_after_s).encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        state = {"started": False, "rewriting": False}

        async def guarded_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
                names = {bytes(k).lower() for k, _ in message.get("headers", [])}
                if message.get("status") == 500 and APP_HEADER.encode() not in names:
                    state["rewriting"] = True
                    log.warning("replica lost mid-request on %s: answered 503", scope.get("path"))
                    return await self._send_503(send)
            elif message["type"] == "http.response.body" and state["rewriting"]:
                return None   # the proxy's 500 body: already replaced
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:  # noqa: BLE001 - the proxy raising is the same outage
            if state["started"]:
                raise
            await self._send_503(send)
            return
        if not state["started"]:   # the proxy gave up without answering (uvicorn would say 500)
            try:
                await self._send_503(send)
            except Exception:  # noqa: BLE001 - the client is gone: nothing to answer
                pass


def proxy_middlewares() -> list[Any]:
    """The proxy middlewares setsel installs (Starlette ``Middleware`` objects); also the callback
    named by ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH``."""
    from starlette.middleware import Middleware

    return [Middleware(ReplicaLossAs503)]
