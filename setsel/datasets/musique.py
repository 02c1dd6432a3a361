"""MuSiQue loader (original MuSiQue-Ans format; ``musique``).

- Pool: ``paragraphs`` in file order; passage id ``<question id>#<idx>`` (``idx`` of the
  paragraph, its position when absent).
- Gold passages: ``paragraphs[].is_supporting``.
- Answers: ``answer`` followed by ``answer_aliases``.
- Evidence (for coverage): the answers of ``question_decomposition``, one per hop in hop
  order, de-duplicated: a selected set covers a hop when that hop's answer string occurs
  in it (normalised substring match), i.e. coverage measures how much of the reasoning
  chain the set can support.
- ``qtype``: the id prefix (``2hop``, ``3hop1``, ``4hop3`` …).

Example:
    >>> cands = load_musique(data_dir() / "musique_migres200/dev.jsonl")  # doctest: +SKIP
    >>> len(cands), len(cands[0].passages), cands[0].query.evidence        # doctest: +SKIP
    (95, 20, ['Henry Baring', 'Sir Francis Baring, 1st Baronet'])
"""

from __future__ import annotations

from pathlib import Path

from setsel.datasets.common import DatasetError, Row, iter_jsonl
from setsel.types import Candidates, Passage, Query, SchemaError


def load_musique(path: str | Path) -> list[Candidates]:
    """MuSiQue rows → Candidates (20-paragraph pools, 2–4 supporting)."""
    out = []
    for lineno, data in iter_jsonl(path):
        row = Row(data, path, lineno)
        qid = str(row.get("id", (str, int)))
        passages, gold = [], []
        for i in range(len(row.get("paragraphs", list))):
            para = row.child("paragraphs", i)
            idx = para.get("idx", int, default=i)
            pid = f"{qid}#{idx}"
            passages.append(Passage(id=pid, title=para.get("title", str, default=""),
                                    text=para.get("paragraph_text", str)))
            if para.get("is_supporting", bool, default=False):
                gold.append(pid)
        evidence: list[str] = []
        for i in range(len(row.get("question_decomposition", list, default=[]))):
            hop = row.child("question_decomposition", i)
            answer = str(hop.get("answer", (str, int), default="")).strip()
            if answer and answer not in evidence:
                evidence.append(answer)
        answers = [str(row.get("answer", (str, int)))] + row.str_list("answer_aliases", default=[])
        query = Query(id=qid, question=row.get("question", str), answers=answers, gold_passage_ids=gold,
                      evidence=evidence, qtype=qid.split("__", 1)[0] if "__" in qid else None)
        try:
            out.append(Candidates(query=query, passages=passages, retriever="file-order"))
        except SchemaError as exc:
            raise DatasetError(f"{row.path}:{lineno}: {exc}") from None
    return out
