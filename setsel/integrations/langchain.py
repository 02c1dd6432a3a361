"""A LangChain document compressor that keeps the set setsel selects.

:class:`SetselCompressor` is a ``BaseDocumentCompressor``: use it in a
``ContextualCompressionRetriever`` or call ``compress_documents(docs, query)`` in an LCEL
chain. Kept documents come back in the selector's order, each with
``metadata["setsel_rank"]`` (1-based). Ids come from ``metadata[id_key]`` (default ``"id"``;
the document's position when absent), titles from ``metadata[title_key]``.

Example:
    >>> from setsel.integrations.langchain import SetselCompressor      # doctest: +SKIP
    >>> comp = SetselCompressor.from_selector("llm_head")               # doctest: +SKIP
    >>> comp.compress_documents(docs, "Who founded Alpha?")             # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict

from setsel.integrations.backend import SelectionBackend, items_from


class SetselCompressor(BaseDocumentCompressor):
    """Keep the documents setsel selects for the query (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    backend: Any
    id_key: str = "id"
    title_key: str = "title"

    @classmethod
    def from_selector(cls, selector: Any = "llm_head", **options: Any) -> "SetselCompressor":
        """A method name + options, a built selector, or a :class:`~setsel.client.SetselClient`."""
        return cls(backend=SelectionBackend(selector, **options))

    def compress_documents(self, documents: Sequence[Document], query: str,
                           callbacks: Callbacks | None = None) -> Sequence[Document]:
        docs = list(documents)
        items = items_from([d.page_content for d in docs], [d.metadata.get(self.id_key) for d in docs],
                           [d.metadata.get(self.title_key) for d in docs])
        chosen = self.backend.select(query, items)
        return [Document(page_content=docs[k].page_content, id=docs[k].id,
                         metadata={**docs[k].metadata, "setsel_rank": rank}) for rank, k in enumerate(chosen, 1)]
