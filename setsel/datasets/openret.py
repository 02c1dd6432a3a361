"""Open-retrieval pools (``openret``): BGE top-k from Wikipedia + a QA file (``openret_bge/*``).

Two line-aligned files per split: ``<split>_qa.jsonl`` (``id``, ``Question``, ``answer``
list, ``golden_context``) and ``<split>_retrieved_bge_top<k>.jsonl`` (``id``, ``query``,
``context``: ranked ``[passage_id, text]``). ``path`` may be the retrieved file (the QA
file is then ``qa_path``, or guessed by name) or a directory holding one such pair.

Gold passages — the TITLE-MATCH rule (the source gives no relevance labels):
  a retrieved passage is gold when its title equals the title of some gold paragraph,
  where the retrieved title is the first line of its ``text`` and a gold title is the first
  line of a ``golden_context`` entry, both compared after :func:`title_key`: unicode NFKC,
  double quotes removed, whitespace collapsed, case-folded. Empty ``golden_context``
  entries (Bamboogle) give no gold titles, so those queries have no gold passages.
  NFKC matters: gold and retrieved titles often differ only in unicode composition
  ("Jesús" precomposed vs combining accent). On the dev halves, questions with every gold
  title in the pool: 105/242 HotpotQA, 14/245 MuSiQue, 45/240 2Wiki (SOURCES.md's plain
  string comparison finds 100, 14 and 39); mean gold-title recall 0.667, 0.261, 0.423.

Passages: ``id`` = the DPR ``psgs_w100`` id, in rank order (rank 1 first); ``title`` =
the first line without its quotes (CSV-style doubled quotes undone); ``text`` = the rest,
without the title that ``psgs_w100`` repeats at its start. A passage id repeated within
one pool keeps its first (best) rank. Query id = the file's ``id`` (a string).

Example:
    >>> cands = load_openret(data_dir() / "openret_bge/hotpotqa")  # doctest: +SKIP
    >>> len(cands), len(cands[0].passages), cands[0].query.gold_passage_ids  # doctest: +SKIP
    (242, 10, ['721354', '17130003'])
"""

from __future__ import annotations

import re
from pathlib import Path

from setsel.datasets.common import DatasetError, Row, iter_jsonl, title_key
from setsel.types import Candidates, Passage, Query

_RETRIEVED = re.compile(r"^(?P<split>.+)_retrieved_[A-Za-z0-9]+_top\d+\.jsonl$")


def find_pair(path: str | Path, qa_path: str | Path | None = None) -> tuple[Path, Path]:
    """``(retrieved file, qa file)`` for a directory or a retrieved file (+ optional qa file)."""
    path = Path(path)
    if path.is_dir():
        retrieved = sorted(p for p in path.glob("*_retrieved_*_top*.jsonl") if _RETRIEVED.match(p.name))
        if len(retrieved) != 1:
            raise DatasetError(f"{path}: expected exactly one <split>_retrieved_<retriever>_top<k>.jsonl, "
                               f"found {[p.name for p in retrieved]}")
        path = retrieved[0]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if qa_path is not None:
        return path, Path(qa_path)
    match = _RETRIEVED.match(path.name)
    guess = path.with_name(f"{match.group('split')}_qa.jsonl") if match else None
    if guess is None or not guess.is_file():
        raise DatasetError(f"{path}: cannot find the matching <split>_qa.jsonl; pass it with --qa")
    return path, guess


def split_title(text: str) -> tuple[str, str]:
    """``'"Title"\\nTitle body'`` → ``("Title", "body")`` (see the module docstring)."""
    first, _, body = text.partition("\n")
    title = first.strip()
    if len(title) >= 2 and title[0] == title[-1] == '"':
        title = title[1:-1].replace('""', '"')
    body = body.strip()
    if title and body.startswith(title + " "):
        body = body[len(title) + 1:].lstrip()
    return title, body


def load_openret(path: str | Path, qa_path: str | Path | None = None) -> list[Candidates]:
    """A retrieved file + its QA file → Candidates with title-matched gold passages."""
    retrieved_path, qa = find_pair(path, qa_path)
    qa_rows: dict[str, Row] = {}
    for lineno, data in iter_jsonl(qa):
        row = Row(data, qa, lineno)
        qid = str(row.get("id", (str, int)))
        if qid in qa_rows:
            raise row.error("id", f"duplicate id {qid}")
        qa_rows[qid] = row
    out = []
    for lineno, data in iter_jsonl(retrieved_path):
        row = Row(data, retrieved_path, lineno)
        qid = str(row.get("id", (str, int)))
        qa_row = qa_rows.get(qid)
        if qa_row is None:
            raise row.error("id", f"{qid} has no row in {qa}")
        gold_titles = {title_key(g.split("\n", 1)[0]) for g in qa_row.str_list("golden_context")} - {""}
        passages, gold, seen = [], [], set()
        context = row.get("context", list)
        for i, item in enumerate(context):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))
                    and isinstance(item[1], str)):
                raise row.error(f"context[{i}]", "expected [passage_id, text]")
            pid = str(item[0])
            if pid in seen:
                continue
            seen.add(pid)
            title, body = split_title(item[1])
            passages.append(Passage(id=pid, title=title, text=body))
            if title_key(title) in gold_titles:
                gold.append(pid)
        answers = qa_row.get("answer", (list, str, int))
        answers = qa_row.str_list("answer") if isinstance(answers, list) else [str(answers)]
        query = Query(id=qid, question=qa_row.get("Question", str), answers=answers, gold_passage_ids=gold)
        out.append(Candidates(query=query, passages=passages, retriever=retrieved_path.name.split("_")[-2]))
    return out


def gold_titles(qa_path: str | Path) -> dict[str, set[str]]:
    """Query id → its gold title keys (first lines of ``golden_context``), for recall checks."""
    out = {}
    for lineno, data in iter_jsonl(qa_path):
        row = Row(data, qa_path, lineno)
        out[str(row.get("id", (str, int)))] = {title_key(g.split("\n", 1)[0])
                                               for g in row.str_list("golden_context")} - {""}
    return out
