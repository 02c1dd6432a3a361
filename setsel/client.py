"""A small typed HTTP client for the setsel Serve endpoint (``setsel serve``).

``SetselClient(base_url).select(question, passages)`` posts to ``/v1/select`` and returns a
:class:`SelectResult`; ``search`` posts to ``/v1/search``. Each request is bounded by
``timeout``; a 503 (back end unavailable) or 429 is retried up to ``max_retries`` times,
waiting the server's ``Retry-After`` (capped at ``max_wait``) or ``backoff · 2^attempt``;
every other error status raises :class:`SetselClientError` at once with the server's message
(a 4xx names the valid choices). ``api_key`` (or ``$SETSEL_API_KEY``) is sent as
``Authorization: Bearer <key>``.

Example:
    >>> client = SetselClient("http://127.0.0.1:8000")                          # doctest: +SKIP
    >>> client.select("Who founded Alpha?", [{"id": "a", "text": "Alpha ..."}]).selected   # doctest: +SKIP
    ['a']
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

RETRY_STATUS = (429, 503)


class SetselClientError(RuntimeError):
    """A request the server refused (``status``) or that could not be completed (``status`` None)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class SelectResult:
    """The server's answer: selected ids in order, the selected passages, how the output parsed."""

    selected: list[str]
    passages: list[dict[str, Any]]
    method: str
    parse_status: str
    fallback_used: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    latency_ms: float | None = None
    retrieved: list[str] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SelectResult":
        try:
            return cls(selected=list(data["selected"]), passages=list(data.get("passages") or []),
                       method=str(data.get("method", "")), parse_status=str(data.get("parse_status", "")),
                       fallback_used=data.get("fallback_used"), usage=dict(data.get("usage") or {}),
                       latency_ms=data.get("latency_ms"), retrieved=data.get("retrieved"))
        except (KeyError, TypeError) as exc:
            raise SetselClientError(f"malformed response from the server: {exc}") from None


class SetselClient:
    """Typed client of ``/v1/select`` and ``/v1/search`` (see the module docstring).

    Args:
        base_url: the Serve app's root, e.g. ``http://127.0.0.1:8000`` (or a route prefix).
        api_key: bearer token (default ``$SETSEL_API_KEY``; none sent when unset).
        timeout: seconds per request.
        max_retries: retries on 503/429.
        backoff: first wait in seconds when the server sends no ``Retry-After``.
        max_wait: longest wait between retries.
    """

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 0.5, max_wait: float = 10.0):
        import httpx

        if max_retries < 0 or timeout <= 0:
            raise ValueError("max_retries must be ≥ 0 and timeout > 0")
        key = api_key if api_key is not None else os.environ.get("SETSEL_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.base_url = base_url.rstrip("/")
        self.max_retries, self.backoff, self.max_wait = max_retries, backoff, max_wait
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers)

    def select(self, question: str, passages: list[dict[str, Any]], method: str | None = None,
               variant: str | None = None, max_passages: int | None = None) -> SelectResult:
        """Select from ``passages`` (``{"id", "title"?, "text"}`` each)."""
        body = {"question": question, "passages": [{"id": str(p["id"]), "title": str(p.get("title") or ""),
                                                    "text": str(p["text"])} for p in passages]}
        return SelectResult.from_json(self._post("/v1/select", body, method, variant, max_passages))

    def search(self, question: str, k: int = 20, method: str | None = None, variant: str | None = None,
               max_passages: int | None = None) -> SelectResult:
        """Retrieve ``k`` passages from the server's index, then select from them."""
        return SelectResult.from_json(self._post("/v1/search", {"question": question, "k": k}, method, variant,
                                                 max_passages))

    def _post(self, path: str, body: dict[str, Any], method, variant, max_passages) -> dict[str, Any]:
        import httpx

        body.update({k: v for k, v in (("method", method), ("variant", variant), ("max_passages", max_passages))
                     if v is not None})
        for attempt in range(self.max_retries + 1):
            try:
                resp = self._http.post(path, json=body)
            except httpx.HTTPError as exc:
                raise SetselClientError(f"{self.base_url}{path}: {type(exc).__name__}: {exc}") from None
            if resp.status_code == 200:
                return resp.json()
            if resp.status_code in RETRY_STATUS and attempt < self.max_retries:
                time.sleep(self._wait(resp, attempt))
                continue
            raise SetselClientError(f"{self.base_url}{path}: HTTP {resp.status_code}: {_message(resp)}"
                                    + (f" (after {attempt + 1} attempts)" if attempt else ""), resp.status_code)
        raise AssertionError("unreachable")

    def _wait(self, resp, attempt: int) -> float:
        try:
            return min(float(resp.headers.get("retry-after")), self.max_wait)
        except (TypeError, ValueError):
            return min(self.backoff * 2**attempt, self.max_wait)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "SetselClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _message(resp) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300]
    if isinstance(data, dict):
        err = data.get("error") or data.get("detail") or data
        return str(err)[:500]
    return str(data)[:500]
