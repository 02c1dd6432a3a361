"""A Haystack 2 component that keeps the set setsel selects.

:class:`SetselRanker` takes ``query`` and ``documents`` and returns ``{"documents": [...]}``
(the selected ones, in the selector's order, each with ``meta["setsel_rank"]``); put it after
a retriever in a ``Pipeline``. Ids are the documents' ``id``; titles come from
``meta[title_key]``.

Example:
    >>> pipe.add_component("select", SetselRanker("llm_head"))             # doctest: +SKIP
    >>> pipe.connect("retriever.documents", "select.documents")            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from haystack import Document, component

from setsel.integrations.backend import SelectionBackend, items_from


@component
class SetselRanker:
    """Keep the documents setsel selects for the query (see the module docstring).

    Args:
        selector: a method name (with ``**options``), a built selector, or a
            :class:`~setsel.client.SetselClient`.
        title_key: the ``meta`` key holding a document's title.
    """

    def __init__(self, selector: Any = "llm_head", title_key: str = "title", **options: Any):
        self.backend = SelectionBackend(selector, **options)
        self.title_key = title_key

    @component.output_types(documents=list[Document])
    def run(self, query: str, documents: list[Document]) -> dict[str, list[Document]]:
        items = items_from([d.content or "" for d in documents], [d.id for d in documents],
                           [d.meta.get(self.title_key) for d in documents])
        chosen = self.backend.select(query, items)
        return {"documents": [replace(documents[k], meta={**documents[k].meta, "setsel_rank": rank})
                              for rank, k in enumerate(chosen, 1)]}
