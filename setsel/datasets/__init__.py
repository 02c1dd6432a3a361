"""Benchmark loaders behind one registry (DESIGN §3): ``load_dataset(name, path)``.

Every loader returns ``list[Candidates]`` in file order, with the query's answers, gold
passage ids, evidence spans (where the format has them) and qtype; each pool keeps the
file's passage order and has stable, unique passage ids. A malformed file raises
:class:`DatasetError` naming the file, line and field. Per-format rules (how gold labels
are derived) are in each module's docstring and in docs/datasets.md.

==================  =============================================  ===========================================
name                default file (under the data directory)        module
==================  =============================================  ===========================================
``hotpotqa-ircot``  ``hotpotqa_ircot500/dev.jsonl``                :mod:`setsel.datasets.hotpotqa`
``hotpotqa``        ``hotpotqa_migres200/dev.jsonl``               :mod:`setsel.datasets.hotpotqa`
``2wiki``           ``2wikimqa_migres200/dev.jsonl``               :mod:`setsel.datasets.hotpotqa`
``musique``         ``musique_migres200/dev.jsonl``                :mod:`setsel.datasets.musique`
``bamboogle``       ``bamboogle/dev.jsonl`` (no passages)          :mod:`setsel.datasets.bamboogle`
``openret``         ``openret_bge/hotpotqa`` (qa + retrieved pair)  :mod:`setsel.datasets.openret`
``multihop-rag``    ``multihop_rag_sample500/dev.jsonl``           :mod:`setsel.datasets.multihop_rag`
``2wiki-train``      ``2wikimqa_train500_migres/train.jsonl``       :mod:`setsel.datasets.hotpotqa` (training only)
``hotpotqa-amor-train`` ``hotpotqa_hard443_amor/train.jsonl``      :mod:`setsel.datasets.hotpotqa` (training only)
``hotpotqa-train``  ``hotpotqa_train100_hipporag/train.jsonl``     :mod:`setsel.datasets.hotpotqa` (training only)
``musique-train``   ``musique_train100_kag/train.jsonl``           :mod:`setsel.datasets.musique` (training only)
``jsonl``           (a path is required)                           :mod:`setsel.datasets.generic`
``demo``            the embedded demo set (no path)                :mod:`setsel.datasets.demo`
==================  =============================================  ===========================================

The data directory is :func:`setsel.paths.data_dir` (``$SETSEL_DATA_DIR``, else
``../shared/data``); a relative ``path`` that does not exist is looked up under it.
Loader modules are imported only when their dataset is loaded.

Example:
    >>> cands = load_dataset("hotpotqa-ircot", limit=5)  # doctest: +SKIP
    >>> len(cands), cands[0].query.gold_passage_ids[:1]  # doctest: +SKIP
    (5, ['5a7bbb64554299042af8f7cc#0'])
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from setsel.datasets.common import DatasetError
from setsel.types import Candidates


@dataclass(frozen=True)
class DatasetSpec:
    """How to load one dataset name: ``module.function(path[, qa_path])``."""

    name: str
    module: str
    function: str
    default_path: str | None
    description: str
    takes_qa: bool = False
    takes_path: bool = True


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("hotpotqa-ircot", "setsel.datasets.hotpotqa", "load_hotpotqa_ircot",
                    "hotpotqa_ircot500/dev.jsonl", "HotpotQA, IRCoT processed format (is_supporting labels)"),
        DatasetSpec("hotpotqa", "setsel.datasets.hotpotqa", "load_hotpotqa", "hotpotqa_migres200/dev.jsonl",
                    "HotpotQA, original distractor format (supporting_facts titles)"),
        DatasetSpec("2wiki", "setsel.datasets.hotpotqa", "load_hotpotqa", "2wikimqa_migres200/dev.jsonl",
                    "2WikiMultihopQA, original format; rows without context are skipped"),
        DatasetSpec("musique", "setsel.datasets.musique", "load_musique", "musique_migres200/dev.jsonl",
                    "MuSiQue-Ans, original format (is_supporting labels, hop answers as evidence)"),
        DatasetSpec("bamboogle", "setsel.datasets.bamboogle", "load_bamboogle", "bamboogle/dev.jsonl",
                    "Bamboogle questions and answers, no passages (use openret for pools)"),
        DatasetSpec("openret", "setsel.datasets.openret", "load_openret", "openret_bge/hotpotqa",
                    "BGE top-k Wikipedia pools + QA file; gold by title match", takes_qa=True),
        DatasetSpec("multihop-rag", "setsel.datasets.multihop_rag", "load_multihop_rag",
                    "multihop_rag_sample500/dev.jsonl", "MultiHop-RAG queries; pools of evidence facts (no corpus)"),
        # Training sets (official train splits, or dev questions kept out of every evaluation
        # file): never evaluate on these. SOURCES.md in the data directory gives their caveats.
        DatasetSpec("2wiki-train", "setsel.datasets.hotpotqa", "load_hotpotqa", "2wikimqa_train500_migres/train.jsonl",
                    "2WikiMultihopQA train, 500 questions, 10-paragraph pools, all gold present (MIGRES; "
                    "its LLM-written qa_pairs/explanation are ignored)"),
        DatasetSpec("hotpotqa-amor-train", "setsel.datasets.hotpotqa", "load_hotpotqa",
                    "hotpotqa_hard443_amor/train.jsonl",
                    "HotpotQA hard, 443 questions with retrieved 10-passage pools; gold sometimes missing (AMOR)"),
        DatasetSpec("hotpotqa-train", "setsel.datasets.hotpotqa", "load_hotpotqa", "hotpotqa_train100_hipporag/train.jsonl",
                    "HotpotQA train, 99 questions, distractor pools (HippoRAG)"),
        DatasetSpec("musique-train", "setsel.datasets.musique", "load_musique", "musique_train100_kag/train.jsonl",
                    "MuSiQue-Ans train, 98 questions, 20-paragraph pools (KAG)"),
        DatasetSpec("jsonl", "setsel.datasets.generic", "load_generic", None,
                    "your own pools: setsel Candidates Parquet/JSONL or the simple JSONL format"),
        DatasetSpec("demo", "setsel.datasets.demo", "load_demo", None, "the embedded demo set (12 questions)",
                    takes_path=False),
    )
}


def list_datasets() -> list[str]:
    """The registered dataset names."""
    return list(DATASETS)


def dataset_path(name: str, path: str | Path | None = None) -> Path | None:
    """The file a dataset loads: ``path`` (resolved against the data directory) or the default."""
    from setsel.datasets.common import resolve
    from setsel.paths import data_dir

    spec = _spec(name)
    root = data_dir()
    if path is not None:
        return resolve(path, root)
    return None if spec.default_path is None else root / spec.default_path


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name]


def load_dataset(name: str, path: str | Path | None = None, qa_path: str | Path | None = None,
                 limit: int | None = None) -> list[Candidates]:
    """Load dataset ``name`` (see the table above) → ``list[Candidates]``.

    Args:
        name: a registered name (:func:`list_datasets`).
        path: the file (or openret directory); default per name under the data directory.
        qa_path: openret only: the ``<split>_qa.jsonl`` paired with ``path``.
        limit: keep the first ``limit`` questions (after skipped rows).
    Raises:
        DatasetError: unknown name, a path given where none is taken, a missing default, a
            malformed file. FileNotFoundError: the file does not exist.
    """
    spec = _spec(name)
    if limit is not None and limit < 0:
        raise DatasetError(f"limit must be ≥ 0, got {limit}")
    if qa_path is not None and not spec.takes_qa:
        raise DatasetError(f"dataset {name!r} takes no qa file (only openret does)")
    loader = getattr(importlib.import_module(spec.module), spec.function)
    if not spec.takes_path:
        if path is not None:
            raise DatasetError(f"dataset {name!r} is embedded and takes no path")
        cands = loader()
    else:
        file = dataset_path(name, path)
        if file is None:
            raise DatasetError(f"dataset {name!r} needs a path (--data)")
        if not file.exists():
            raise FileNotFoundError(f"{file}: no such file or directory (dataset {name!r})")
        if spec.takes_qa:
            qa = None if qa_path is None else dataset_path(name, qa_path)
            cands = loader(file, qa)
        else:
            cands = loader(file)
    return cands if limit is None else cands[:limit]


__all__ = ["DATASETS", "DatasetError", "DatasetSpec", "dataset_path", "list_datasets", "load_dataset"]
