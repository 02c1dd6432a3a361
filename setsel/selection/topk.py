"""``topk``: the first k candidates in pool order (the retrieval baseline).

``k`` comes from the common options; ``max_passages`` (if set and smaller) caps it. The
selection is a ranking (``ordered=True``) and always parses (``parse_status="ok"``).

Example:
    >>> sel = get_selector("topk", k=2)                      # doctest: +SKIP
    >>> sel.select([cands])[0].selected_ids                  # doctest: +SKIP
    ['p1', 'p2']
"""

from __future__ import annotations

from setsel.selection import register_selector
from setsel.selection.base import Selector
from setsel.types import Candidates, Selection


@register_selector("topk")
class TopK(Selector):
    """Select the first ``k`` passages of each pool."""

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        n = self.options.k if self.options.max_passages is None else min(self.options.k, self.options.max_passages)
        return [Selection(query_id=c.query.id, method=self.name, selected_ids=c.ids[:n], ordered=True,
                          parse_status="ok") for c in batch]
