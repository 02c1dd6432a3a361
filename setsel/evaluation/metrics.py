"""The papers' metrics as pure functions (DESIGN §10). Standard library only.

Answers (SetR / OptiSet, SQuAD normalisation):
- :func:`normalize_answer`: lower-case, drop punctuation, drop the articles a/an/the,
  collapse whitespace.
- :func:`exact_match` (non-strict EM): 1 when some normalised gold occurs in the
  normalised prediction as a contiguous token sequence ("no" does not match "north").
- :func:`token_f1`: SQuAD token-overlap F1, the maximum over the golds.
- :func:`answer_accuracy` (MultiHop-RAG's accuracy): 1 when some normalised gold string
  occurs anywhere in the normalised prediction (plain substring: the paper counts a
  response as correct when it contains the ground-truth answer).

Retrieval and sets (``ranked`` / ``selected`` are passage ids, ``gold`` a collection of ids):
- :func:`mrr_at_k`, :func:`ndcg_at_k` (binary relevance), :func:`hit_at_k`;
- :func:`set_prf`: presence-based precision / recall / F1 of a selected set;
- :func:`coverage`: share of distinct gold evidence spans found (normalised, token-boundary
  substring) in some selected passage text.

Novelty (OptiSet §5): ``g_1 = 1``, ``g_i = 1 − max_{j<i} Sim(p_i, p_j)``, Novel = mean g;
:func:`novelty` with :func:`jaccard` (token sets) by default, any ``sim`` callable
(e.g. BERTScore-F1) otherwise; :func:`novel_at` gives Novel@all / @2 / @3.

Example:
    >>> exact_match("It was The Beatles.", ["beatles"]), token_f1("the red fox", ["red dog"])
    (1.0, 0.5)
    >>> mrr_at_k(["a", "b", "c"], {"b"}), set_prf(["a", "b"], {"b", "c"})
    (0.5, (0.5, 0.5, 0.5))
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, remove punctuation and articles, collapse whitespace.

    >>> normalize_answer("  The  Beatles' album, \\"Abbey Road\\"! ")
    'beatles album abbey road'
    """
    text = "".join(ch for ch in str(text).lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _contains_tokens(haystack: str, needle: str) -> bool:
    """``needle`` occurs in ``haystack`` as whole tokens (both already normalised)."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def _golds(golds: Iterable[str] | str) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def exact_match(prediction: str, golds: Iterable[str] | str) -> float:
    """Non-strict EM: 1.0 if some normalised gold is a token subsequence of the normalised prediction."""
    pred = normalize_answer(prediction)
    return float(any(_contains_tokens(pred, normalize_answer(g)) for g in _golds(golds)))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Iterable[str] | str) -> float:
    """SQuAD token F1 of the normalised strings, maximised over golds (0.0 with no golds)."""
    pred = normalize_answer(prediction).split()
    return max((_f1(pred, normalize_answer(g).split()) for g in _golds(golds)), default=0.0)


def answer_accuracy(prediction: str, golds: Iterable[str] | str) -> float:
    """MultiHop-RAG accuracy: 1.0 if some non-empty normalised gold is a substring of the normalised prediction."""
    pred = normalize_answer(prediction)
    return float(any((g := normalize_answer(gold)) and g in pred for gold in _golds(golds)))


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an int ≥ 1, got {k!r}")


def hit_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """1.0 if any of the first ``k`` ids is gold."""
    _check_k(k)
    return float(any(i in gold for i in ranked[:k]))


def mrr_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """Reciprocal rank of the first gold id among the first ``k`` (0.0 when none)."""
    _check_k(k)
    for rank, pid in enumerate(ranked[:k], 1):
        if pid in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Collection[str], k: int = 10) -> float:
    """Binary-relevance NDCG@k: ``Σ rel_i/log2(i+1)`` over the first k, over the ideal ordering.

    Repeated ids count once (at their first rank). Raises ``ValueError`` when ``gold`` is empty.
    """
    _check_k(k)
    if not gold:
        raise ValueError("ndcg_at_k: no gold ids (relevance undefined)")
    seen: set[str] = set()
    dcg = 0.0
    for rank, pid in enumerate(ranked[:k], 1):
        if pid in gold and pid not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(pid)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(set(gold)), k) + 1))
    return dcg / ideal


def set_prf(selected: Iterable[str], gold: Collection[str]) -> tuple[float, float, float]:
    """Precision, recall, F1 of the selected set against the gold set (duplicates ignored).

    An empty selection scores (0, 0, 0). Raises ``ValueError`` when ``gold`` is empty.
    """
    gold_set = set(gold)
    if not gold_set:
        raise ValueError("set_prf: no gold ids (precision/recall undefined)")
    chosen = set(selected)
    hits = len(chosen & gold_set)
    if not chosen or hits == 0:
        return 0.0, 0.0, 0.0
    p, r = hits / len(chosen), hits / len(gold_set)
    return p, r, 2 * p * r / (p + r)


def coverage(evidence: Iterable[str], passage_texts: Iterable[str]) -> float | None:
    """Share of distinct normalised evidence spans found in some passage text; ``None`` without evidence.

    >>> coverage(["Ann wrote X.", "ann wrote x", "born 1970"], ["Title: Ann wrote X in 1990."])
    0.5
    """
    spans = sorted({normalize_answer(e) for e in evidence} - {""})
    if not spans:
        return None
    texts = [normalize_answer(t) for t in passage_texts]
    return sum(any(_contains_tokens(t, s) for t in texts) for s in spans) / len(spans)


def jaccard(a: str, b: str) -> float:
    """Jaccard similarity of the normalised token sets (two empty texts → 1.0)."""
    sa, sb = set(normalize_answer(a).split()), set(normalize_answer(b).split())
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def novelty(texts: Sequence[str], sim: Callable[[str, str], float] = jaccard) -> list[float]:
    """Per-passage novelty ``g_i`` in order: ``g_1 = 1``, ``g_i = 1 − max_{j<i} sim(p_i, p_j)``.

    >>> novelty(["a b", "a b", "c d"])
    [1.0, 0.0, 1.0]
    """
    return [1.0 if i == 0 else 1.0 - max(sim(texts[i], texts[j]) for j in range(i)) for i in range(len(texts))]


def novel_at(texts: Sequence[str], n: int | None = None, sim: Callable[[str, str], float] = jaccard) -> float | None:
    """Novel@n: mean novelty of the first ``n`` passages (``None`` = all); ``None`` for an empty list."""
    if n is not None:
        _check_k(n)
        texts = texts[:n]
    if not texts:
        return None
    g = novelty(texts, sim)
    return sum(g) / len(g)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the non-``None`` values; ``None`` when there are none."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None
