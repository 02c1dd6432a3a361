"""Loaders for the benchmark formats in ../shared/data (see its SOURCES.md).

Every loader yields :class:`~setsel.types.Candidates` in file order: a ``Query`` (answers,
gold passage ids, evidence where present, qtype) and its passage pool in the file's order.
Passage ids are stable: ``<query id>#<position>`` for per-question pools and the
collection's own ids where it has them (openret: DPR ``psgs_w100`` ids).

A malformed file raises :class:`DatasetError` naming the file, line and field.

Gold labels per format:
- IRCoT HotpotQA: ``contexts[].is_supporting``.
- HotpotQA / 2Wiki (original): paragraphs whose title is named in ``supporting_facts``.
  2Wiki rows without ``context`` (MIGRES dropped it) have no pool and are skipped (counted
  in a warning).
- MuSiQue: ``paragraphs[].is_supporting``; evidence = the decomposition's sub-answers.
- openret (BGE top-k over Wikipedia): labels are not given; a retrieved passage is gold when
  its title (first line, quotes stripped) equals the title (first line) of a
  ``golden_context`` after NFKC normalisation, case folding and whitespace collapsing.
- MultiHop-RAG (queries only; the news corpus is not available): the pool is the query's own
  evidence facts (gold) plus facts of other queries as distractors, drawn with a fixed seed
  and interleaved deterministically; ``evidence`` = its facts (for coverage).
- Bamboogle: questions and answers only (empty pools); pair with ``openret``'s bamboogle pool.
"""

from __future__ import annotations

import json
import logging
import random
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from setsel.types import Candidates, Passage, Query, SchemaError

log = logging.getLogger("setsel.datasets")


class DatasetError(SchemaError):
    """A benchmark file is malformed; the message names file, line and field."""


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, row


def _get(row: dict, field: str, path: Path, lineno: int, kind: type | tuple = object) -> Any:
    if field not in row:
        raise DatasetError(f"{path}:{lineno}: missing field '{field}'")
    value = row[field]
    if not isinstance(value, kind):
        raise DatasetError(f"{path}:{lineno}: field '{field}' has type {type(value).__name__}")
    return value


def norm_title(title: str) -> str:
    title = unicodedata.normalize("NFKC", title).strip().strip('"').strip()
    return re.sub(r"\s+", " ", title).casefold()


def load_hotpotqa_ircot(path: str | Path) -> list[Candidates]:
    path = Path(path)
    out = []
    for lineno, row in iter_jsonl(path):
        qid = str(_get(row, "question_id", path, lineno))
        answers = []
        for obj in _get(row, "answers_objects", path, lineno, list):
            answers.extend(str(s) for s in (obj.get("spans") or []))
        passages, gold = [], []
        for i, ctx in enumerate(_get(row, "contexts", path, lineno, list)):
            if not isinstance(ctx, dict) or "paragraph_text" not in ctx:
                raise DatasetError(f"{path}:{lineno}: field 'contexts[{i}].paragraph_text' missing")
            pid = f"{qid}#{i}"
            passages.append(Passage(id=pid, title=ctx.get("title", ""), text=ctx["paragraph_text"]))
            if ctx.get("is_supporting"):
                gold.append(pid)
        q = Query(id=qid, question=_get(row, "question_text", path, lineno, str), answers=answers, gold_passage_ids=gold)
        out.append(Candidates(query=q, passages=passages, retriever="file-order"))
    return out


def load_hotpotqa(path: str | Path, dataset: str = "hotpotqa") -> list[Candidates]:
    """Original HotpotQA distractor format; also 2WikiMultihopQA (same fields)."""
    path = Path(path)
    out, skipped = [], 0
    for lineno, row in iter_jsonl(path):
        qid = str(_get(row, "_id", path, lineno))
        context = row.get("context")
        if not context:
            skipped += 1
            continue
        sup_titles = {norm_title(t) for t, *_ in _get(row, "supporting_facts", path, lineno, list)}
        passages, gold = [], []
        for i, item in enumerate(context):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], list)):
                raise DatasetError(f"{path}:{lineno}: field 'context[{i}]' must be [title, [sentences]]")
            title, sentences = item
            pid = f"{qid}#{i}"
            passages.append(Passage(id=pid, title=title, text="".join(sentences).strip()))
            if norm_title(title) in sup_titles:
                gold.append(pid)
        evidence = [" ".join(map(str, e)) for e in row.get("evidences") or []]
        answer = _get(row, "answer", path, lineno, str)
        q = Query(id=qid, question=_get(row, "question", path, lineno, str), answers=[answer],
                  gold_passage_ids=gold, evidence=evidence, qtype=row.get("type"))
        out.append(Candidates(query=q, passages=passages, retriever="file-order"))
    if skipped:
        log.warning("%s: skipped %d rows without a context pool (%s)", path, skipped, dataset)
    return out


def load_musique(path: str | Path) -> list[Candidates]:
    path = Path(path)
    out = []
    for lineno, row in iter_jsonl(path):
        qid = str(_get(row, "id", path, lineno))
        passages, gold = [], []
        for i, para in enumerate(_get(row, "paragraphs", path, lineno, list)):
            if not isinstance(para, dict) or "paragraph_text" not in para:
                raise DatasetError(f"{path}:{lineno}: field 'paragraphs[{i}].paragraph_text' missing")
            pid = f"{qid}#{para.get('idx', i)}"
            passages.append(Passage(id=pid, title=para.get("title", ""), text=para["paragraph_text"]))
            if para.get("is_supporting"):
                gold.append(pid)
        answers = [_get(row, "answer", path, lineno, str)] + [str(a) for a in row.get("answer_aliases") or []]
        evidence = [str(d.get("answer", "")) for d in row.get("question_decomposition") or [] if d.get("answer")]
        q = Query(id=qid, question=_get(row, "question", path, lineno, str), answers=answers, gold_passage_ids=gold,
                  evidence=evidence, qtype=qid.split("__")[0] if "__" in qid else None)
        out.append(Candidates(query=q, passages=passages, retriever="file-order"))
    return out


def load_bamboogle(path: str | Path) -> list[Candidates]:
    path = Path(path)
    out = []
    for lineno, row in iter_jsonl(path):
        question = _get(row, "Question", path, lineno, str)
        qid = f"bamboogle-{lineno}"
        q = Query(id=qid, question=question, answers=[str(_get(row, "Answer", path, lineno))])
        out.append(Candidates(query=q, passages=[], retriever=None))
    return out


def _openret_paths(path: Path, qa_path: Path | None) -> tuple[Path, Path]:
    if path.is_dir():
        retrieved = sorted(path.glob("*_retrieved_bge_top*.jsonl"))
        qas = sorted(path.glob("*_qa.jsonl"))
        if not retrieved or not qas:
            raise DatasetError(f"{path}: expected <split>_qa.jsonl and <split>_retrieved_bge_top<k>.jsonl")
        return retrieved[0], qas[0]
    if qa_path is None:
        guess = path.with_name(re.sub(r"_retrieved_bge_top\d+\.jsonl$", "_qa.jsonl", path.name))
        if not guess.is_file():
            raise DatasetError(f"{path}: pass --qa with the matching <split>_qa.jsonl")
        qa_path = guess
    return path, qa_path


def load_openret(path: str | Path, qa_path: str | Path | None = None) -> list[Candidates]:
    retrieved_path, qa = _openret_paths(Path(path), Path(qa_path) if qa_path else None)
    qa_rows = {str(r.get("id")): (n, r) for n, r in iter_jsonl(qa)}
    out = []
    for lineno, row in iter_jsonl(retrieved_path):
        rid = str(_get(row, "id", retrieved_path, lineno))
        if rid not in qa_rows:
            raise DatasetError(f"{retrieved_path}:{lineno}: id {rid} has no row in {qa}")
        qa_line, qa_row = qa_rows[rid]
        gold_titles = set()
        for g in _get(qa_row, "golden_context", qa, qa_line, list):
            if isinstance(g, str) and g.strip():
                gold_titles.add(norm_title(g.split("\n", 1)[0]))
        passages, gold, seen = [], [], set()
        for i, item in enumerate(_get(row, "context", retrieved_path, lineno, list)):
            if not (isinstance(item, list) and len(item) == 2):
                raise DatasetError(f"{retrieved_path}:{lineno}: field 'context[{i}]' must be [passage_id, text]")
            pid, text = str(item[0]), str(item[1])
            if pid in seen:
                continue
            seen.add(pid)
            first, _, body = text.partition("\n")
            title = first.strip().strip('"')
            if body.startswith(title + " "):
                body = body[len(title) + 1 :]  # psgs_w100 repeats the title at the start
            passages.append(Passage(id=pid, title=title, text=body.strip()))
            if norm_title(title) in gold_titles:
                gold.append(pid)
        answers = _get(qa_row, "answer", qa, qa_line)
        answers = [answers] if isinstance(answers, str) else [str(a) for a in answers]
        q = Query(id=rid, question=_get(qa_row, "Question", qa, qa_line, str), answers=answers, gold_passage_ids=gold)
        out.append(Candidates(query=q, passages=passages, scores=None, retriever="bge"))
    return out


def load_multihop_rag(path: str | Path, pool_size: int = 10, seed: int = 0) -> list[Candidates]:
    path = Path(path)
    rows = list(iter_jsonl(path))
    all_facts: list[tuple[str, str, str]] = []  # (query id, title, fact)
    for lineno, row in rows:
        for ev in _get(row, "evidence_list", path, lineno, list):
            if isinstance(ev, dict) and ev.get("fact"):
                all_facts.append((str(row.get("sample_id")), str(ev.get("title", "")), str(ev["fact"])))
    out = []
    for lineno, row in rows:
        qid = str(_get(row, "sample_id", path, lineno))
        own = [(t, f) for q, t, f in all_facts if q == qid]
        rng = random.Random(f"{seed}:{qid}")
        others = [(t, f) for q, t, f in all_facts if q != qid and f not in {x for _, x in own}]
        distractors = rng.sample(others, min(len(others), max(0, pool_size - len(own))))
        pool = own + distractors
        rng.shuffle(pool)
        passages, gold, seen = [], [], set()
        for i, (title, fact) in enumerate(pool):
            if fact in seen:
                continue
            seen.add(fact)
            pid = f"{qid}#{i}"
            passages.append(Passage(id=pid, title=title, text=fact))
            if (title, fact) in own:
                gold.append(pid)
        q = Query(id=qid, question=_get(row, "query", path, lineno, str), answers=[str(_get(row, "answer", path, lineno))],
                  gold_passage_ids=gold, evidence=[f for _, f in own], qtype=row.get("question_type"))
        out.append(Candidates(query=q, passages=passages, retriever="evidence-pool"))
    return out


def load_generic(path: str | Path) -> list[Candidates]:
    """setsel Candidates files (setsel.io) or JSONL rows ``{id, question, answers?, passages: [{id,title,text}],
    gold_passage_ids?}``."""
    from setsel.io import read_candidates

    path = Path(path)
    if path.suffix == ".parquet":
        return read_candidates(path)
    out = []
    for lineno, row in iter_jsonl(path):
        if "query" in row:
            try:
                out.append(Candidates.from_dict(row))
            except (SchemaError, TypeError, KeyError) as exc:
                raise DatasetError(f"{path}:{lineno}: {exc}") from None
            continue
        passages = []
        for i, p in enumerate(_get(row, "passages", path, lineno, list)):
            if not isinstance(p, dict) or "text" not in p:
                raise DatasetError(f"{path}:{lineno}: field 'passages[{i}].text' missing")
            passages.append(Passage(id=str(p.get("id", f"{row.get('id')}#{i}")), title=p.get("title", ""), text=p["text"]))
        q = Query(id=str(_get(row, "id", path, lineno)), question=_get(row, "question", path, lineno, str),
                  answers=row.get("answers") or [], gold_passage_ids=row.get("gold_passage_ids") or [],
                  evidence=row.get("evidence") or [])
        try:
            out.append(Candidates(query=q, passages=passages, retriever=row.get("retriever")))
        except SchemaError as exc:
            raise DatasetError(f"{path}:{lineno}: {exc}") from None
    return out
