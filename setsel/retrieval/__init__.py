"""First-stage retrieval (DESIGN §2): BM25 (bm25s), dense (encoder + FAISS), hybrid (RRF).

- :mod:`~setsel.retrieval.corpus`   corpus files, pooled benchmark corpora, query files
- :mod:`~setsel.retrieval.encoders` the encoder registry (embedded MiniLM; bge, contriever, e5)
- :mod:`~setsel.retrieval.bm25`     BM25 through bm25s
- :mod:`~setsel.retrieval.dense`    FAISS indexes (Flat / IVF / HNSW, GPU when present)
- :mod:`~setsel.retrieval.fusion`   reciprocal rank fusion
- :mod:`~setsel.retrieval.shards`   resumable embedding shards
- :mod:`~setsel.retrieval.index`    index directories: build, verify, load, search

Example:
    >>> from setsel.retrieval import build_index, load_index                # doctest: +SKIP
    >>> build_index("corpus.jsonl", "runs/idx", retriever="hybrid")          # doctest: +SKIP
    >>> cands = load_index("runs/idx").search(["Who wrote Hamlet?"], k=20)   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_index", "load_index", "IndexSettings", "IndexLoadError", "RETRIEVERS"]


def __getattr__(name: str) -> Any:  # keep `import setsel.retrieval` light (no faiss/bm25s/torch)
    if name in __all__:
        from setsel.retrieval import index

        return getattr(index, name)
    raise AttributeError(f"module 'setsel.retrieval' has no attribute {name!r}")
