"""setsel as a Model Context Protocol server (``setsel mcp``; the ``mcp`` SDK, stdio transport).

Tools, for an agent that has passages (or a question) and wants the set worth reading:

- ``select(question, passages, max_passages=None)``: the selector's set out of the given
  passages (``{"id", "title", "text"}`` each; ids unique); returns the selected ids in
  order, the selected passages, the parse status and any fallback used.
- ``search(question, k=20, max_passages=None)`` (only when an index is configured): retrieve
  ``k`` passages from the index (``setsel index``), then select from them.

Requests are checked against the same :class:`~setsel.distributed.serve_schema.Limits` as
the HTTP endpoint; a bad request is a tool error naming the limit (the client sees
``isError``), never a crash of the server. The selector (default: the shipped trained
``llm_head``) is built once, on the first call, so the handshake is immediate.

Example (a client from the same SDK)::

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async with Client(StdioServerParameters(command="setsel", args=["mcp", "--index", "runs/idx"])) as c:
        out = await c.call_tool("search", {"question": "Who founded Alpha?", "k": 10})
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MCPConfig:
    """What ``setsel mcp`` serves.

    Attributes:
        method: selection method (any registered selector).
        options: its options (``get_selector`` keywords).
        index: an index folder (``setsel index``) enabling the ``search`` tool.
        name: the server name shown to clients.
    """

    method: str = "llm_head"
    options: dict[str, Any] = field(default_factory=dict)
    index: str | None = None
    name: str = "setsel"


class SelectionService:
    """The selector and the optional index behind the tools (lazy, thread-safe)."""

    def __init__(self, cfg: MCPConfig):
        from setsel.distributed.serve_schema import Limits

        self.cfg = cfg
        self.limits = Limits()
        self._selectors: dict[int | None, Any] = {}
        self._index = None
        self._lock = threading.Lock()

    def selector(self, max_passages: int | None = None):
        """The configured selector, one per ``max_passages`` asked for (built on first use)."""
        with self._lock:
            if max_passages not in self._selectors:
                from setsel.selection import get_selector

                options = dict(self.cfg.options)
                if max_passages is not None:
                    options["max_passages"] = max_passages
                self._selectors[max_passages] = get_selector(self.cfg.method, **options)
            return self._selectors[max_passages]

    def index(self):
        with self._lock:
            if self._index is None:
                from setsel.retrieval.index import load_index

                self._index = load_index(self.cfg.index)
            return self._index

    def _checked(self, kind: str, **fields: Any):
        """The ``SelectRequest``/``SearchRequest`` of ``fields``, within the limits (else ``ValueError``)."""
        from pydantic import ValidationError

        from setsel.distributed.serve_schema import LimitError, SearchRequest, SelectRequest, check_limits

        try:
            req = (SelectRequest if kind == "select" else SearchRequest)(**fields)
            check_limits(req, self.limits, [self.cfg.method])
        except ValidationError as exc:
            raise ValueError(f"bad {kind} request: {_short(exc)}") from None
        except LimitError as exc:
            raise ValueError(exc.message) from None
        return req

    def select(self, question: str, passages: list[dict[str, Any]], max_passages: int | None = None) -> dict[str, Any]:
        from setsel.types import Candidates, Passage, Query

        req = self._checked("select", question=question, passages=passages, max_passages=max_passages)
        cands = Candidates(query=Query(id="mcp", question=req.question),
                           passages=[Passage(id=p.id, title=p.title, text=p.text) for p in req.passages])
        return self._run(cands, req.max_passages)

    def search(self, question: str, k: int = 20, max_passages: int | None = None) -> dict[str, Any]:
        req = self._checked("search", question=question, k=k, max_passages=max_passages)
        [cands] = self.index().search([req.question], k=req.k)
        return {**self._run(cands, req.max_passages), "retrieved": cands.ids}

    def _run(self, cands, max_passages: int | None) -> dict[str, Any]:
        [sel] = self.selector(max_passages).select([cands])
        by_id = {p.id: p for p in cands.passages}
        return {"selected": list(sel.selected_ids), "method": self.cfg.method,
                "passages": [{"id": i, "title": by_id[i].title, "text": by_id[i].text} for i in sel.selected_ids],
                "parse_status": sel.parse_status, "fallback_used": sel.fallback_used}


def _short(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg')}" for e in errors()[:3])
    return str(exc)


def build_server(cfg: MCPConfig, service: SelectionService | None = None):
    """The ``MCPServer`` with the ``select`` tool (and ``search`` when ``cfg.index`` is set)."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    service = service or SelectionService(cfg)

    def answer(fn, *args):
        try:
            return fn(*args)
        except ValueError as exc:  # a bad request: its message goes to the client as a tool error
            raise ToolError(str(exc)) from None

    server = MCPServer(cfg.name, instructions=(
        "Set-wise passage selection: give a question and candidate passages to `select`, and get back "
        "the set that together answers it" + (", or give a question to `search`" if cfg.index else "") + "."))

    @server.tool()
    def select(question: str, passages: list[dict[str, str]], max_passages: int | None = None) -> dict[str, Any]:
        """Select the passages that together answer `question`.

        `passages`: a list of {"id", "title", "text"} (ids unique). Returns the selected ids in
        order, the selected passages, and how the selector's output was parsed.
        """
        return answer(service.select, question, passages, max_passages)

    if cfg.index:
        @server.tool()
        def search(question: str, k: int = 20, max_passages: int | None = None) -> dict[str, Any]:
            """Retrieve `k` passages for `question` from the configured index, then select from them."""
            return answer(service.search, question, k, max_passages)

    return server
