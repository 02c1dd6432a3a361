"""A LlamaIndex node postprocessor that keeps the set setsel selects.

:class:`SetselPostprocessor` is a ``BaseNodePostprocessor``: pass it in
``node_postprocessors=[...]`` of a query engine, or call
``postprocess_nodes(nodes, query_str=...)``. Kept nodes come back in the selector's order;
ids are the nodes' ``node_id``; titles come from ``metadata[title_key]``.

Example:
    >>> pp = SetselPostprocessor.from_selector("llm_head")                 # doctest: +SKIP
    >>> pp.postprocess_nodes(retriever.retrieve(q), query_str=q)           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, List, Optional

from llama_index.core.bridge.pydantic import ConfigDict
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from setsel.integrations.backend import SelectionBackend, items_from


class SetselPostprocessor(BaseNodePostprocessor):
    """Keep the nodes setsel selects for the query (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    backend: Any
    title_key: str = "title"

    @classmethod
    def from_selector(cls, selector: Any = "llm_head", **options: Any) -> "SetselPostprocessor":
        """A method name + options, a built selector, or a :class:`~setsel.client.SetselClient`."""
        return cls(backend=SelectionBackend(selector, **options))

    @classmethod
    def class_name(cls) -> str:
        return "SetselPostprocessor"

    def _postprocess_nodes(self, nodes: List[NodeWithScore],
                           query_bundle: Optional[QueryBundle] = None) -> List[NodeWithScore]:
        if query_bundle is None:
            raise ValueError("SetselPostprocessor needs the query (query_bundle / query_str)")
        items = items_from([n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
                           [n.node.node_id for n in nodes], [n.node.metadata.get(self.title_key) for n in nodes])
        return [nodes[k] for k in self.backend.select(query_bundle.query_str, items)]
