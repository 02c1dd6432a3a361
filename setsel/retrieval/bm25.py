"""BM25 through ``bm25s`` (Lucene variant, k1=1.5, b=0.75 by default), with optional English
stemming (PyStemmer) and stop-word removal.

The index lives in a folder (``bm25s``'s own files plus ``bm25.json`` with the tokenizer
settings) so the query side is tokenised exactly as the corpus was. Results are row
numbers into the index's ``passages.parquet`` with their scores; hits with score 0 (no
query term in the passage) are dropped rather than returned as arbitrary passages.

Example:
    >>> bm = BM25Index.build(["the cat sat", "hamlet by shakespeare"])   # doctest: +SKIP
    >>> bm.search(["who wrote hamlet"], k=1)                             # doctest: +SKIP
    [([1], [0.39])]
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


class EmptyCorpusError(ValueError):
    """:meth:`BM25Index.build` got texts without a single indexable term."""


@dataclass(frozen=True)
class BM25Params:
    """Tokeniser and scoring settings (stored with the index)."""

    stemmer: str | None = "english"     # a PyStemmer language, or None
    stopwords: str | None = "en"        # a bm25s stop-word list name, or None
    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"

    def __post_init__(self) -> None:
        if not self.k1 > 0 or not 0 <= self.b <= 1:
            raise ValueError(f"BM25 needs k1 > 0 and 0 ≤ b ≤ 1, got k1={self.k1}, b={self.b}")


class BM25Index:
    """A ``bm25s`` index plus the tokenizer settings it was built with."""

    def __init__(self, retriever, params: BM25Params, n_docs: int) -> None:
        self.retriever, self.params, self.n_docs = retriever, params, int(n_docs)
        self._stemmer = _stemmer(params.stemmer)

    @classmethod
    def build(cls, texts: list[str], params: BM25Params | None = None, show_progress: bool = False) -> "BM25Index":
        import bm25s

        params = params or BM25Params()
        tokens = bm25s.tokenize(texts, stopwords=params.stopwords, stemmer=_stemmer(params.stemmer),
                                show_progress=show_progress)
        if not tokens.vocab:  # bm25s itself fails with a bare max() error here
            raise EmptyCorpusError(f"no indexable term in {len(texts)} text(s) (all empty, stop words "
                                   "or one-character tokens)")
        retriever = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
        retriever.index(tokens, show_progress=show_progress)
        return cls(retriever, params, len(texts))

    def save(self, folder: str | Path) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(folder), show_progress=False)
        (folder / "bm25.json").write_text(json.dumps({"params": asdict(self.params), "n_docs": self.n_docs}))
        return sorted(p for p in folder.iterdir() if p.is_file())

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = False) -> "BM25Index":
        import bm25s

        folder = Path(folder)
        meta = json.loads((folder / "bm25.json").read_text())
        retriever = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        return cls(retriever, BM25Params(**meta["params"]), meta["n_docs"])

    def tokenize_queries(self, questions: list[str]) -> list[list[str]]:
        import bm25s

        return bm25s.tokenize(questions, stopwords=self.params.stopwords, stemmer=self._stemmer,
                              return_ids=False, show_progress=False)

    def scores(self, question: str) -> np.ndarray:
        """The BM25 score of ``question`` against every indexed passage (shape ``(n_docs,)``).

        Query terms absent from the index contribute nothing; a question with no indexed
        term scores 0 everywhere.
        """
        [tokens] = self.tokenize_queries([question])
        ids = self.retriever.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float64)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float64)

    def search(self, questions: list[str], k: int) -> list[tuple[list[int], list[float]]]:
        """Top-``k`` ``(rows, scores)`` per question, best first, zero-score hits dropped."""
        if not questions:
            return []
        k = min(int(k), self.n_docs)
        if k <= 0:
            return [([], []) for _ in questions]
        docs, scores = self.retriever.retrieve(self.tokenize_queries(questions), k=k, show_progress=False)
        out = []
        for row_ids, row_scores in zip(np.asarray(docs), np.asarray(scores)):
            keep = row_scores > 0
            out.append(([int(i) for i in row_ids[keep]], [float(s) for s in row_scores[keep]]))
        return out


def _stemmer(language: str | None):
    if not language:
        return None
    import Stemmer

    return Stemmer.Stemmer(language)  # bm25s calls its stemWords on the unique tokens
