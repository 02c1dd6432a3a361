"""MultiHop-RAG loader (``multihop-rag``): queries with evidence lists, WITHOUT the corpus.

The 609-article news corpus is not available (../shared/data/SOURCES.md §7), so there is
no retrieval collection. Each query gets a synthetic candidate pool built from the only
text there is, the evidence ``fact`` sentences:

- its own facts (de-duplicated, in file order) are the gold passages, and also its
  ``evidence`` spans (for coverage);
- distractors are facts of OTHER queries in the same file (any fact whose text equals one
  of its own is excluded; duplicates across queries count once), drawn with
  ``random.Random(f"{seed}:{query id}")`` until the pool holds ``pool_size`` facts
  (default 10); a ``null_query`` (no evidence) gets distractors only;
- the pool is then shuffled with the same generator, so gold facts are not always first.

The pool depends only on (file, ``pool_size``, ``seed``, query id): runs are reproducible.
Distractors are other queries' gold facts, usually on other topics, so selection here is
easier than with retrieved news chunks; report it as such.

Passage ids: ``<sample_id>#<position in the pool>``; ``title`` = the article title;
``metadata`` = ``{source, published_at, url, category}``. Answers = ``[answer]``;
``qtype`` = ``question_type``.

Example:
    >>> cands = load_multihop_rag(data_dir() / "multihop_rag_sample500/dev.jsonl")  # doctest: +SKIP
    >>> len(cands), len(cands[0].passages)                                          # doctest: +SKIP
    (260, 10)
"""

from __future__ import annotations

import random
from pathlib import Path

from setsel.datasets.common import Row, iter_jsonl
from setsel.types import Candidates, Passage, Query

DEFAULT_POOL_SIZE = 10
_META = ("source", "published_at", "url", "category")


def _facts(row: Row) -> list[dict]:
    facts, seen = [], set()
    for i in range(len(row.get("evidence_list", list))):
        ev = row.child("evidence_list", i)
        text = ev.get("fact", str).strip()
        if text and text not in seen:
            seen.add(text)
            facts.append({"title": ev.get("title", str, default=""), "text": text,
                          "metadata": {k: ev.data[k] for k in _META if ev.data.get(k) is not None}})
    return facts


def load_multihop_rag(path: str | Path, pool_size: int = DEFAULT_POOL_SIZE, seed: int = 0) -> list[Candidates]:
    """MultiHop-RAG rows → Candidates with evidence-fact pools (see the module docstring)."""
    if pool_size < 1:
        raise ValueError(f"pool_size must be ≥ 1, got {pool_size}")
    rows = []
    for lineno, data in iter_jsonl(path):
        row = Row(data, path, lineno)
        rows.append((str(row.get("sample_id", (str, int))), row, _facts(row)))
    pool_facts: dict[str, dict] = {}  # text → first occurrence, in file order
    for qid, _, facts in rows:
        for f in facts:
            pool_facts.setdefault(f["text"], f)
    all_texts = list(pool_facts)
    out = []
    for qid, row, own in rows:
        own_texts = {f["text"] for f in own}
        others = [t for t in all_texts if t not in own_texts]
        rng = random.Random(f"{seed}:{qid}")
        n_distract = min(len(others), max(0, pool_size - len(own)))
        pool = [(f, True) for f in own] + [(pool_facts[t], False) for t in rng.sample(others, n_distract)]
        rng.shuffle(pool)
        passages, gold = [], []
        for i, (fact, is_gold) in enumerate(pool):
            pid = f"{qid}#{i}"
            passages.append(Passage(id=pid, title=fact["title"], text=fact["text"], metadata=dict(fact["metadata"])))
            if is_gold:
                gold.append(pid)
        query = Query(id=qid, question=row.get("query", str), answers=[str(row.get("answer", (str, int)))],
                      gold_passage_ids=gold, evidence=[f["text"] for f in own],
                      qtype=row.get("question_type", str, default=None))
        out.append(Candidates(query=query, passages=passages, retriever="evidence-pool"))
    return out
