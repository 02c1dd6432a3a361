"""``lexical``: BM25 re-ranking of each question's own pool, then the top k (LLM-free).

For every question a small BM25 index is built over its candidate pool alone (each
passage as ``title: text``, see :func:`setsel.selection.mmr.passage_text`) with setsel's
own :class:`~setsel.retrieval.bm25.BM25Index` (``bm25s``, Lucene BM25, English stemming
and stop words), the question is scored against it, and the ``k`` highest-scoring
passages are selected, best first (``max_passages`` caps ``k``). IDF is therefore the
pool's, not the corpus's: a term rare in the pool weighs most. Ties, including passages
that share no term with the question (score 0), keep pool order, so a pool where nothing
matches selects exactly what ``topk`` would.

Options: ``k`` (common), ``k1`` and ``b`` (BM25, defaults 1.5 and 0.75), ``stemmer``
(a PyStemmer language or ``None``) and ``stopwords`` (a ``bm25s`` list name or ``None``).

Example:
    >>> from setsel.types import Candidates, Passage, Query
    >>> c = Candidates(query=Query(id="q", question="Who wrote Hamlet?"),
    ...                passages=[Passage(id="a", title="Cats", text="The cat sat on the mat."),
    ...                          Passage(id="b", title="Hamlet", text="A tragedy by Shakespeare.")])
    >>> lexical_order("Who wrote Hamlet?", [p for p in c.passages], k=2)
    [1, 0]
    >>> get_selector("lexical", k=1).select([c])[0].selected_ids   # doctest: +SKIP
    ['b']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from setsel.retrieval.bm25 import BM25Index, BM25Params, EmptyCorpusError
from setsel.selection import register_selector
from setsel.selection.base import Selector, SelectorError, SelectorOptions
from setsel.selection.mmr import passage_text
from setsel.types import Candidates, Passage, Selection


def lexical_scores(question: str, passages: list[Passage], params: BM25Params | None = None) -> list[float]:
    """BM25 score of ``question`` against each of ``passages``, with IDF over ``passages`` alone."""
    if not passages:
        return []
    try:
        index = BM25Index.build([passage_text(p) for p in passages], params or BM25Params())
    except EmptyCorpusError:  # no passage has a single indexable term: nothing matches
        return [0.0] * len(passages)
    return [float(s) for s in index.scores(question)]


def lexical_order(question: str, passages: list[Passage], k: int, params: BM25Params | None = None) -> list[int]:
    """Indices of ``passages`` by BM25 score, best first, ties in pool order; at most ``k``."""
    if k < 1:
        return []
    scores = lexical_scores(question, passages, params)
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:k]  # sorted() is stable: ties keep pool order


def feedback_scores(scores: list[float], passages: list[Passage], weight: float, max_words: int | None = None,
                    params: BM25Params | None = None) -> list[float]:
    """Lexical second-hop feedback: the best-scored passage becomes a BM25 query over the rest of the pool.

    Pseudo-relevance feedback with the first hop (Rocchio's idea, the query replaced by the top
    passage): multi-hop questions name their first hop, and the second hop is usually the article
    of an entity the first hop's text names (MuSiQue: "the association which published X" → the
    first hop names the association, whose own article is the second hop). The top passage ``t``
    (highest score, the first on a tie) keeps its score; every other passage ``i`` gets
    ``scores[i] + weight · z_i``, ``z`` = BM25 of the first ``max_words`` words of ``t``'s text (what
    the selector read) against the other passages, standardised over them
    (:func:`~setsel.selection.rules.standardise`; all 0 when nothing matches). ``t``'s *title* is
    left out of the query: it names the first hop's own kind ("Journal of …"), which pulls in the
    pool's look-alike distractors (other journals) rather than the entity the text leads to.

    Args:
        scores: one score per passage (the selector's, before the cut).
        passages: the pool, in the order of ``scores``.
        weight: the feedback weight; 0 returns ``scores`` unchanged.
        max_words: words of the top passage's text in the query (``None`` = all).
    Returns:
        The new scores, one per passage.

    Example:
        >>> ps = [Passage(id="a", title="Journal X", text="Journal X is published by the Acme Society."),
        ...       Passage(id="b", title="Acme Society", text="The Acme Society was founded by Ann Lee."),
        ...       Passage(id="c", title="Journal Y", text="Journal Y covers small business management.")]
        >>> [round(s, 3) for s in feedback_scores([2.0, 0.0, 0.0], ps, 1.0)]   # b names a's "Acme Society"
        [2.0, 1.0, -1.0]
    """
    if len(scores) != len(passages):
        raise ValueError(f"one score per passage: {len(scores)} scores, {len(passages)} passages")
    if not weight or len(scores) < 2:
        return [float(s) for s in scores]
    from setsel.selection.rules import standardise
    from setsel.text import clean_passage_text, truncate_words

    top = max(range(len(scores)), key=lambda i: (scores[i], -i))
    query = truncate_words(clean_passage_text(passages[top].text or ""), max_words)
    others = [i for i in range(len(passages)) if i != top]
    z = dict(zip(others, standardise(lexical_scores(query, [passages[i] for i in others], params))))
    return [float(s) if i == top else float(s) + weight * z[i] for i, s in enumerate(scores)]


@dataclass
class LexicalOptions(SelectorOptions):
    """Common options plus the BM25 settings (see the module docstring)."""

    k1: float = 1.5
    b: float = 0.75
    stemmer: str | None = "english"
    stopwords: str | None = "en"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("k1", "b"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SelectorError(f"{name} must be a number, got {value!r}")
        for name in ("stemmer", "stopwords"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise SelectorError(f"{name} must be a string or None, got {value!r}")
        try:
            self.bm25_params()
        except ValueError as exc:
            raise SelectorError(str(exc)) from None

    def bm25_params(self) -> BM25Params:
        return BM25Params(stemmer=self.stemmer, stopwords=self.stopwords, k1=float(self.k1), b=float(self.b))


@register_selector("lexical")
class Lexical(Selector):
    """BM25 over each question's own pool, top ``k`` (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = LexicalOptions

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        o: Any = self.options
        k = o.k if o.max_passages is None else min(o.k, o.max_passages)
        params = o.bm25_params()
        out = []
        for c in batch:
            order = lexical_order(c.query.question, c.passages, k, params)
            out.append(Selection(query_id=c.query.id, method=self.name, selected_ids=[c.passages[i].id for i in order],
                                 ordered=True, parse_status="ok"))
        return out
