"""HotpotQA loaders: the IRCoT "processed_data" format and the original distractor format
(which 2WikiMultihopQA shares).

Gold labels:
- IRCoT (``hotpotqa-ircot``): ``contexts[].is_supporting``; answers = ``answers_objects[].spans``
  (a number or date object when there are no spans). No evidence spans (the format keeps
  no sentence-level supporting facts).
- Original (``hotpotqa``, ``2wiki``): a paragraph is gold when its title is named in
  ``supporting_facts`` (compared with :func:`~setsel.datasets.common.title_key`);
  ``evidence`` = the supporting-fact sentences themselves (used for coverage);
  ``qtype`` = ``type``. Rows without ``context`` (MIGRES dropped it from 19 of the 102
  2Wiki dev rows) have no pool: they are skipped, counted, and logged as a warning.

Passage ids are ``<question id>#<position>`` (unique per pool and across the file); passages
keep the file's order. Paragraph text = the sentences joined (a space only where none is).

Example:
    >>> cands = load_hotpotqa_ircot(data_dir() / "hotpotqa_ircot500/dev.jsonl")  # doctest: +SKIP
    >>> len(cands), cands[0].query.gold_passage_ids                               # doctest: +SKIP
    (243, ['5a7bbb64554299042af8f7cc#0', '5a7bbb64554299042af8f7cc#4'])
"""

from __future__ import annotations

import logging
from pathlib import Path

from setsel.datasets.common import DatasetError, Row, iter_jsonl, join_sentences, title_key
from setsel.types import Candidates, Passage, Query, SchemaError

log = logging.getLogger("setsel.datasets")


def _ircot_answers(row: Row) -> list[str]:
    answers: list[str] = []
    objs = row.get("answers_objects", list)
    for i in range(len(objs)):
        obj = row.child("answers_objects", i)
        spans = obj.str_list("spans", default=[])
        if spans:
            answers.extend(spans)
            continue
        number = obj.get("number", (str, int, float), default="")
        date = obj.get("date", dict, default={})
        if str(number).strip():
            answers.append(str(number).strip())
        elif any(str(v).strip() for v in date.values()):
            answers.append(" ".join(str(date.get(k, "")).strip() for k in ("day", "month", "year")).strip())
    return answers


def load_hotpotqa_ircot(path: str | Path) -> list[Candidates]:
    """IRCoT HotpotQA rows → Candidates (pool = ``contexts`` in file order)."""
    out = []
    for lineno, data in iter_jsonl(path):
        row = Row(data, path, lineno)
        qid = str(row.get("question_id", (str, int)))
        passages, gold = [], []
        for i in range(len(row.get("contexts", list))):
            ctx = row.child("contexts", i)
            pid = f"{qid}#{i}"
            passages.append(Passage(id=pid, title=ctx.get("title", str, default=""),
                                    text=ctx.get("paragraph_text", str)))
            if ctx.get("is_supporting", bool, default=False):
                gold.append(pid)
        query = Query(id=qid, question=row.get("question_text", str), answers=_ircot_answers(row),
                      gold_passage_ids=gold)
        out.append(_candidates(query, passages, row))
    return out


def _candidates(query: Query, passages: list[Passage], row: Row) -> Candidates:
    try:
        return Candidates(query=query, passages=passages, retriever="file-order")
    except SchemaError as exc:
        raise DatasetError(f"{row.path}:{row.lineno}: {exc}") from None


def load_hotpotqa(path: str | Path) -> list[Candidates]:
    """Original HotpotQA / 2Wiki rows → Candidates; rows without a context pool are skipped."""
    out, skipped = [], 0
    for lineno, data in iter_jsonl(path):
        row = Row(data, path, lineno)
        qid = str(row.get("_id", (str, int)))
        if not data.get("context"):
            skipped += 1
            continue
        context = row.get("context", list)
        support: list[tuple[str, int]] = []
        for i, fact in enumerate(row.get("supporting_facts", list)):
            if not (isinstance(fact, list) and len(fact) == 2 and isinstance(fact[0], str)
                    and isinstance(fact[1], int) and not isinstance(fact[1], bool)):
                raise row.error(f"supporting_facts[{i}]", "expected [title, sentence index]")
            support.append((title_key(fact[0]), fact[1]))
        gold_titles = {t for t, _ in support}
        passages, gold, sentences_by_title = [], [], {}
        for i, item in enumerate(context):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and isinstance(item[1], list) and all(isinstance(s, str) for s in item[1])):
                raise row.error(f"context[{i}]", "expected [title, [sentence, ...]]")
            title, sentences = item
            pid = f"{qid}#{i}"
            passages.append(Passage(id=pid, title=title, text=join_sentences(sentences)))
            sentences_by_title.setdefault(title_key(title), sentences)
            if title_key(title) in gold_titles:
                gold.append(pid)
        evidence = []
        for key, idx in support:  # sentence indices past the paragraph's end are a known data quirk
            sents = sentences_by_title.get(key, [])
            if 0 <= idx < len(sents) and sents[idx].strip() and sents[idx].strip() not in evidence:
                evidence.append(sents[idx].strip())
        query = Query(id=qid, question=row.get("question", str), answers=[str(row.get("answer", (str, int)))],
                      gold_passage_ids=gold, evidence=evidence, qtype=row.get("type", str, default=None))
        out.append(_candidates(query, passages, row))
    if skipped:
        log.warning("%s: skipped %d row(s) without a context pool (kept %d)", path, skipped, len(out))
    return out


def count_rows_without_context(path: str | Path) -> int:
    """How many rows of an original-format file have no ``context`` (what :func:`load_hotpotqa` skips)."""
    return sum(1 for _, data in iter_jsonl(path) if not data.get("context"))
