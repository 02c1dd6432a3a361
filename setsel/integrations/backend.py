"""What the framework components share: one way to select from (id, title, text) items.

:class:`SelectionBackend` wraps either an in-process selector (a method name plus options,
or a built :class:`~setsel.selection.Selector`) or a remote Serve endpoint (a
:class:`~setsel.client.SetselClient`) and answers ``select(question, items)`` with the
positions of the chosen items, in the selector's order.

Example:
    >>> b = SelectionBackend("topk", k=2)
    >>> b.select("q?", [("a", "", "x"), ("b", "", "y"), ("c", "", "z")])
    [0, 1]
"""

from __future__ import annotations

from typing import Any, Sequence

Item = tuple[str, str, str]  # (id, title, text)


class SelectionBackend:
    """In-process or remote selection (see the module docstring).

    Args:
        selector: a method name (``"llm_head"``, ``"topk"``, …), a built selector, or a
            :class:`~setsel.client.SetselClient`.
        **options: selector options when ``selector`` is a method name; for a client,
            ``method`` / ``variant`` / ``max_passages`` sent with each request.
    """

    def __init__(self, selector: Any = "llm_head", **options: Any):
        from setsel.client import SetselClient

        self.remote = selector if isinstance(selector, SetselClient) else None
        self.request_options = options if self.remote is not None else {}
        if self.remote is None and isinstance(selector, str):
            from setsel.selection import get_selector

            selector = get_selector(selector, **options)
        self.selector = None if self.remote is not None else selector

    def select(self, question: str, items: Sequence[Item]) -> list[int]:
        """Positions of the selected items, in the selector's order (unique ids required)."""
        if not items:
            return []
        ids = [str(i) for i, _, _ in items]
        if len(set(ids)) != len(ids):
            raise ValueError("setsel needs unique passage ids; give every document an id (or none, to use positions)")
        pos = {pid: k for k, pid in enumerate(ids)}
        if self.remote is not None:
            result = self.remote.select(question, [{"id": i, "title": t, "text": x} for i, t, x in items],
                                        **self.request_options)
            chosen = result.selected
        else:
            from setsel.types import Candidates, Passage, Query

            cands = Candidates(Query(id="q", question=question), [Passage(id=i, title=t, text=x) for i, t, x in items])
            [sel] = self.selector.select([cands])
            chosen = sel.selected_ids
        return [pos[c] for c in chosen if c in pos]


def items_from(texts: Sequence[str], ids: Sequence[Any | None], titles: Sequence[Any | None]) -> list[Item]:
    """``(id, title, text)`` items; a missing id becomes the item's position (``"0"``, ``"1"``, …).

    >>> items_from(["x", "y"], [None, "b"], ["T", None])
    [('0', 'T', 'x'), ('b', '', 'y')]
    """
    return [(str(i) if i not in (None, "") else str(k), str(t or ""), str(x)) for k, (x, i, t) in
            enumerate(zip(texts, ids, titles))]
