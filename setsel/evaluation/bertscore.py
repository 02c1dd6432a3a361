"""BERTScore-F1 as the novelty similarity (OptiSet §5), when the ``bert_score`` package is installed.

setsel does not depend on ``bert_score``; :func:`bertscore_available` says whether it can
be used and :func:`bertscore_similarity` builds a ``sim(a, b) -> float`` for
:func:`setsel.evaluation.metrics.novelty`. Without the package, a clear ``ImportError``.

Example::

    if bertscore_available():
        sim = bertscore_similarity()
        novel_at(texts, sim=sim)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable


def bertscore_available() -> bool:
    """Whether ``import bert_score`` would succeed."""
    return importlib.util.find_spec("bert_score") is not None


def bertscore_similarity(model_type: str = "roberta-large", lang: str = "en") -> Callable[[str, str], float]:
    """``sim(a, b)`` = BERTScore F1 of ``a`` against ``b`` (one scorer, loaded once, cached pairs)."""
    if not bertscore_available():
        raise ImportError("BERTScore novelty needs the 'bert_score' package (pip install bert-score); "
                          "Jaccard novelty works without it")
    from bert_score import BERTScorer

    scorer = BERTScorer(model_type=model_type, lang=lang)
    cache: dict[tuple[str, str], float] = {}

    def sim(a: str, b: str) -> float:
        if (a, b) not in cache:
            _, _, f1 = scorer.score([a], [b])
            cache[(a, b)] = float(f1[0])
        return cache[(a, b)]

    return sim
