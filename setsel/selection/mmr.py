"""``mmr``: maximal marginal relevance over embeddings (Carbonell & Goldstein, 1998), LLM-free.

Greedy: the next passage maximises ``λ·sim(q, d) − (1 − λ)·max_{s ∈ S} sim(d, s)`` over
the passages not yet chosen (the penalty is 0 while ``S`` is empty), until ``k`` are chosen
(``max_passages`` caps ``k``). Similarities are dot products of L2-normalised embeddings
(cosine). ``λ = 1`` is plain relevance ranking; lower values trade relevance for diversity.
Ties go to the earlier candidate.

Batching: every passage of every question is embedded in one encoder call, every question
in another.

Options: ``lambda_`` (default 0.5), ``k``, ``encoder`` (a name for
:func:`setsel.retrieval.encoders.load_encoder`, default ``minilm``, or an object with
``encode(texts, kind=...)``).

Example:
    >>> import numpy as np
    >>> q = np.array([1.0, 0.0])
    >>> docs = np.array([[1.0, 0.0], [0.98, 0.199], [0.0, 1.0]])
    >>> mmr_order(q, docs, k=2, lambda_=1.0)   # relevance only
    [0, 1]
    >>> mmr_order(q, docs, k=2, lambda_=0.3)   # 0.3·0.98 − 0.7·0.98 < 0.3·0 − 0.7·0
    [0, 2]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from setsel.selection import register_selector
from setsel.selection.base import Selector, SelectorError, SelectorOptions
from setsel.types import Candidates, Selection


def mmr_order(query: np.ndarray, docs: np.ndarray, k: int, lambda_: float) -> list[int]:
    """Indices of ``docs`` (rows) in MMR order, at most ``k``.

    Args:
        query: the query embedding, shape ``(d,)``.
        docs: passage embeddings, shape ``(n, d)``.
        k: how many to choose.
        lambda_: relevance weight in ``[0, 1]``.
    """
    docs = np.asarray(docs, dtype=np.float64)
    n = docs.shape[0] if docs.ndim == 2 else 0
    if n == 0 or k < 1:
        return []
    relevance = docs @ np.asarray(query, dtype=np.float64)
    pairwise = docs @ docs.T
    chosen: list[int] = []
    redundancy = np.zeros(n)
    available = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        score = lambda_ * relevance - (1.0 - lambda_) * redundancy
        score[~available] = -np.inf
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, pairwise[best]) if len(chosen) > 1 else pairwise[best].copy()
    return chosen


@dataclass
class MMROptions(SelectorOptions):
    """Common options plus ``lambda_`` and ``encoder``."""

    lambda_: float = 0.5
    encoder: Any = "minilm"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.lambda_, bool) or not isinstance(self.lambda_, (int, float)) or not 0 <= self.lambda_ <= 1:
            raise SelectorError(f"lambda_ must be a number in [0, 1], got {self.lambda_!r}")
        if not (isinstance(self.encoder, str) or hasattr(self.encoder, "encode")):
            raise SelectorError(f"encoder must be a name or an object with encode(), got {self.encoder!r}")


def passage_text(p: Any) -> str:
    """What is embedded for a passage: ``title: text`` (or the text alone without a title)."""
    return f"{p.title}: {p.text}" if p.title else p.text


@register_selector("mmr")
class MMR(Selector):
    """MMR over sentence embeddings (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = MMROptions

    def __init__(self, options: SelectorOptions | None = None) -> None:
        super().__init__(options)
        self._encoder = None if isinstance(self.options.encoder, str) else self.options.encoder

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from setsel.retrieval.encoders import load_encoder

            self._encoder = load_encoder(self.options.encoder)
        return self._encoder

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        o = self.options
        k = o.k if o.max_passages is None else min(o.k, o.max_passages)
        texts = [passage_text(p) for c in batch for p in c.passages]
        doc_vecs = self.encoder.encode(texts, kind="passage") if texts else np.zeros((0, 1))
        query_vecs = self.encoder.encode([c.query.question for c in batch], kind="query")
        out, start = [], 0
        for c, q in zip(batch, query_vecs):
            n = len(c.passages)
            order = mmr_order(q, doc_vecs[start : start + n], k, float(o.lambda_))
            start += n
            out.append(Selection(query_id=c.query.id, method=self.name, selected_ids=[c.passages[i].id for i in order],
                                 ordered=True, parse_status="ok"))
        return out
