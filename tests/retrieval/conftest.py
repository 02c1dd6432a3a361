"""Fixtures for retrieval tests: a small real corpus and helpers to write corpus files."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def demo_pooled():
    """The embedded demo set pooled into a corpus (41 passages, 12 questions with gold ids)."""
    from setsel.datasets import load_dataset
    from setsel.retrieval.corpus import pool_candidates

    return pool_candidates(load_dataset("demo"))


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory, demo_pooled):
    from setsel.retrieval.corpus import write_passages, write_queries

    d = tmp_path_factory.mktemp("demo_corpus")
    write_passages(demo_pooled.passages, d / "corpus.parquet")
    write_queries(demo_pooled.queries, d / "queries.jsonl")
    return d
