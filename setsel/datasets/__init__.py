"""Benchmark loaders behind one registry: ``load_dataset(name, path=None, qa_path=None, limit=None)``.

Names: ``hotpotqa-ircot``, ``hotpotqa``, ``2wiki``, ``musique``, ``bamboogle``, ``openret``
(BGE-retrieved pools; ``path`` a directory like ``openret_bge/hotpotqa`` or the retrieved
file with ``qa_path``), ``multihop-rag``, ``jsonl`` (setsel Candidates or simple JSONL/Parquet),
``demo`` (the embedded set). Without ``path``, the shared benchmark file under
:func:`setsel.paths.data_dir` is used (``$SETSEL_DATA_DIR`` overrides). Formats and gold-label
rules: :mod:`setsel.datasets.loaders`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from setsel.paths import data_dir
from setsel.types import Candidates

# name -> (module, function, default path under the data dir, takes qa_path)
DATASETS: dict[str, tuple[str, str, str | None]] = {
    "hotpotqa-ircot": ("setsel.datasets.loaders", "load_hotpotqa_ircot", "hotpotqa_ircot500/dev.jsonl"),
    "hotpotqa": ("setsel.datasets.loaders", "load_hotpotqa", "hotpotqa_migres200/dev.jsonl"),
    "hotpotqa-train": ("setsel.datasets.loaders", "load_hotpotqa", "hotpotqa_train100_hipporag/train.jsonl"),
    "2wiki": ("setsel.datasets.loaders", "load_hotpotqa", "2wikimqa_migres200/dev.jsonl"),
    "musique": ("setsel.datasets.loaders", "load_musique", "musique_migres200/dev.jsonl"),
    "musique-train": ("setsel.datasets.loaders", "load_musique", "musique_train100_kag/train.jsonl"),
    "bamboogle": ("setsel.datasets.loaders", "load_bamboogle", "bamboogle/dev.jsonl"),
    "openret": ("setsel.datasets.loaders", "load_openret", "openret_bge/hotpotqa"),
    "multihop-rag": ("setsel.datasets.loaders", "load_multihop_rag", "multihop_rag_sample500/dev.jsonl"),
    "jsonl": ("setsel.datasets.loaders", "load_generic", None),
    "demo": ("setsel.datasets.demo", "load_demo", None),
}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def load_dataset(name: str, path: str | Path | None = None, qa_path: str | Path | None = None,
                 limit: int | None = None) -> list[Candidates]:
    """Load benchmark ``name`` as a list of :class:`Candidates` (file order), first ``limit`` only."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {list_datasets()}")
    module, fn_name, default = DATASETS[name]
    fn = getattr(importlib.import_module(module), fn_name)
    if name == "demo":
        items = fn()
    else:
        if path is None:
            if default is None:
                raise ValueError(f"dataset {name!r} needs a path")
            path = data_dir() / default
        items = fn(path, qa_path) if name == "openret" else fn(path)
    return items[:limit] if limit is not None else items
