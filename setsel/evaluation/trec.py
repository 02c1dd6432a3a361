"""TREC run and qrels files: what ``trec_eval``, ``ir-measures`` and ``pytrec_eval`` read.

A run line is ``qid Q0 docid rank score tag``; a qrels line is ``qid 0 docid relevance``
(whitespace-separated; ids must not contain whitespace, checked). setsel writes:

- runs of a ranking (``setsel retrieve``: the retrieved pool; ``setsel select`` / ``eval``:
  the selected set, in selection order);
- qrels of the gold passages (relevance 1). ``setsel eval`` writes the gold passages *present
  in the pool* — the convention of its own set and rank metrics, so ``ir-measures`` on its
  ``run.trec`` + ``qrels.trec`` reproduces its ``mrr@10`` and ``ndcg@10``
  (tests/evaluation/test_trec.py checks this to 1e-6 on dev runs).

Scores: trec_eval re-sorts each query's lines by score (descending, ties broken by docid,
*not* by the rank column), so a run is only read back in setsel's order when its scores
strictly decrease. Given scores are written when they do; otherwise (a selection has no
scores, or ties) the score is ``n - rank + 1``.

Set metrics (set precision/recall/F1) stay setsel's own: no TREC tool has them.

Example:
    >>> import io
    >>> buf = io.StringIO()
    >>> write_run(buf, [("q1", ["d3", "d1"], None)], tag="setsel")
    >>> buf.getvalue()
    'q1 Q0 d3 1 2 setsel\\nq1 Q0 d1 2 1 setsel\\n'
    >>> buf = io.StringIO(); write_qrels(buf, [("q1", ["d1"])]); buf.getvalue()
    'q1 0 d1 1\\n'
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Iterable, Iterator, Sequence

RunRow = tuple[str, Sequence[str], Sequence[float] | None]


def _check_id(kind: str, value: str) -> str:
    value = str(value)
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"TREC {kind} {value!r} is empty or contains whitespace (TREC files are whitespace-separated)")
    return value


def _scores(ranked: Sequence[str], scores: Sequence[float] | None) -> list[float]:
    """``scores`` when they strictly decrease (trec_eval keeps that order), else ``n - rank + 1``.

    >>> _scores(["a", "b"], [0.9, 0.2]), _scores(["a", "b"], [0.5, 0.5]), _scores(["a", "b"], None)
    ([0.9, 0.2], [2, 1], [2, 1])
    """
    if scores is not None:
        if len(scores) != len(ranked):
            raise ValueError(f"{len(scores)} scores for {len(ranked)} ids")
        if all(a > b for a, b in zip(scores, scores[1:])):
            return [float(s) for s in scores]
    return [len(ranked) - r for r in range(len(ranked))]


@contextlib.contextmanager
def _open(target: str | Path | IO[str]) -> Iterator[IO[str]]:
    if hasattr(target, "write"):
        yield target  # type: ignore[misc]
        return
    path = Path(target)  # type: ignore[arg-type]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        yield fh


def write_run(target: str | Path | IO[str], rows: Iterable[RunRow], tag: str = "setsel") -> int:
    """Write ``(qid, ranked ids, scores or None)`` rows as a TREC run; returns the lines written.

    Repeated ids in one ranking are written once (first rank), as trec_eval counts them once.
    """
    tag = _check_id("run tag", tag)
    n = 0
    with _open(target) as fh:
        for qid, ranked, scores in rows:
            qid = _check_id("query id", qid)
            if scores is not None and len(scores) != len(ranked):
                raise ValueError(f"{len(scores)} scores for {len(ranked)} ids")
            first = {}
            for k, doc in enumerate(ranked):
                first.setdefault(doc, k)
            docs = list(first)
            kept = _scores(docs, None if scores is None else [scores[k] for k in first.values()])
            for rank, (doc, score) in enumerate(zip(docs, kept), 1):
                fh.write(f"{qid} Q0 {_check_id('doc id', doc)} {rank} {score:g} {tag}\n")
                n += 1
    return n


def write_qrels(target: str | Path | IO[str], rows: Iterable[tuple[str, Iterable[str]]]) -> int:
    """Write ``(qid, gold ids)`` rows as binary TREC qrels (relevance 1); returns the lines written."""
    n = 0
    with _open(target) as fh:
        for qid, gold in rows:
            qid = _check_id("query id", qid)
            for doc in dict.fromkeys(gold):
                fh.write(f"{qid} 0 {_check_id('doc id', doc)} 1\n")
                n += 1
    return n


def read_run(path: str | Path) -> dict[str, list[str]]:
    """``{qid: doc ids}`` of a TREC run, each query's ids ordered as trec_eval orders them
    (score descending, then doc id descending)."""
    lines: dict[str, list[tuple[float, str]]] = {}
    for k, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise ValueError(f"{path}:{k}: a run line has 6 fields (qid Q0 docid rank score tag), got {len(parts)}")
        try:
            score = float(parts[4])
        except ValueError:
            raise ValueError(f"{path}:{k}: score {parts[4]!r} is not a number") from None
        lines.setdefault(parts[0], []).append((score, parts[2]))
    return {q: [d for _, d in sorted(v, reverse=True)] for q, v in lines.items()}
