"""Run a selector (and optionally a generator) over a dataset and score it (DESIGN §10).

:func:`evaluate` is the whole loop; its pieces are public so the Ray job
(:mod:`setsel.distributed.evaluate`) runs the same code on shards:
:func:`prepare` (limit, shuffle) → :func:`run_batch` per batch (selection, answers) →
:func:`build_result` (per-question scores, aggregates, the top-k curve).

Conventions (also in the report):
- Retrieval metrics (set precision/recall/F1, hit, MRR@10, NDCG@10) are averaged over
  the questions that have at least one gold passage in their pool; the others get
  ``None``. MRR/NDCG use the order of the selected list (for set methods that order is the
  method's output order). ``hit`` = Hit@k: a gold passage among the first ``k`` selected.
- ``coverage`` is averaged over questions with evidence spans and a non-empty pool.
- ``novelty_jaccard`` = Novel@all (Jaccard) over questions with ≥ 1 selected passage.
- ``parse_failed_rate``, ``fallback_rate``, ``selector_completion_tokens`` apply to LLM
  methods only (``None`` otherwise); ``em``/``f1``/``accuracy``/``generator_prompt_tokens``
  only when answers are generated.

Example:
    >>> result = evaluate(load_dataset("hotpotqa-ircot"), get_selector("topk", k=5), k=5)  # doctest: +SKIP
    >>> result.metrics["set_recall"]                                                       # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from setsel.evaluation import metrics as M
from setsel.evaluation.answer import DEFAULT_MAX_TOKENS, Answer, generate_answers
from setsel.evaluation.journal import question_keys
from setsel.types import Candidates, Selection

METRIC_KEYS = (
    "n_queries", "avg_selected", "set_precision", "set_recall", "set_f1", "hit", "coverage", "mrr@10",
    "ndcg@10", "em", "f1", "accuracy", "parse_failed_rate", "fallback_rate", "selector_completion_tokens",
    "generator_prompt_tokens", "novelty_jaccard", "wall_s", "method", "model", "dataset", "k",
)
RANK_CUTOFF = 10
MAX_CURVE_K = 50


@dataclass
class QueryResult:
    """One question's outcome: selection, labels, per-question metrics, model outputs."""

    query_id: str
    question: str
    qtype: str | None
    answers: list[str]
    pool_ids: list[str]
    selected_ids: list[str]
    gold_ids: list[str]
    n_selected: int
    set_precision: float | None
    set_recall: float | None
    set_f1: float | None
    hit: float | None
    mrr_at_10: float | None
    ndcg_at_10: float | None
    coverage: float | None
    novelty_jaccard: float | None
    novelty_at_2: float | None
    novelty_at_3: float | None
    novelty_bertscore: float | None
    raw_output: str
    parse_status: str
    fallback_used: str | None
    selector_prompt_tokens: int
    selector_completion_tokens: int
    latency_s: float
    prediction: str | None = None
    generator_output: str | None = None
    generator_prompt_tokens: int | None = None
    em: float | None = None
    f1: float | None = None
    accuracy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvalResult:
    """``metrics`` (the flat metrics.json), one :class:`QueryResult` per question, the top-k curve."""

    metrics: dict[str, Any]
    rows: list[QueryResult]
    topk_curve: list[dict[str, float]] = field(default_factory=list)


def prepare(candidates: Sequence[Candidates], *, limit: int | None = None,
            shuffle_seed: int | None = None) -> list[Candidates]:
    """The first ``limit`` questions, each pool permuted per (``shuffle_seed``, query id) if given."""
    from setsel.selection import shuffle_candidates

    if limit is not None and limit < 0:
        raise ValueError(f"limit must be ≥ 0, got {limit}")
    items = list(candidates)[:limit] if limit is not None else list(candidates)
    if shuffle_seed is not None:
        items = [shuffle_candidates(c, shuffle_seed) for c in items]
    return items


def run_batch(selector, batch: list[Candidates], generator=None,
              max_tokens: int = DEFAULT_MAX_TOKENS) -> tuple[list[Selection], list[Answer] | None]:
    """Select for ``batch``; with a ``generator`` engine also answer from each selection."""
    selections = selector.select(batch)
    answers = generate_answers(generator, batch, selections, max_tokens) if generator is not None else None
    return selections, answers


def score_query(cand: Candidates, sel: Selection, answer: Answer | None, k: int,
                bert_sim: Callable[[str, str], float] | None = None) -> QueryResult:
    """Per-question metrics for one selection (and answer); ``bert_sim`` adds BERTScore novelty."""
    pool = set(cand.ids)
    gold = [g for g in cand.query.gold_passage_ids if g in pool]
    by_id = {p.id: p for p in cand.passages}
    texts = [f"{by_id[i].title} {by_id[i].text}".strip() for i in sel.selected_ids]
    selected = sel.selected_ids
    p = r = f = hit = mrr = ndcg = None
    if gold:
        p, r, f = M.set_prf(selected, gold)
        hit = M.hit_at_k(selected, gold, k)
        mrr = M.mrr_at_k(selected, gold, RANK_CUTOFF)
        ndcg = M.ndcg_at_k(selected, gold, RANK_CUTOFF)
    row = QueryResult(
        query_id=cand.query.id, question=cand.query.question, qtype=cand.query.qtype, answers=cand.query.answers,
        pool_ids=cand.ids, selected_ids=list(selected), gold_ids=gold, n_selected=len(selected),
        set_precision=p, set_recall=r, set_f1=f, hit=hit, mrr_at_10=mrr, ndcg_at_10=ndcg,
        coverage=M.coverage(cand.query.evidence, texts) if cand.passages else None,
        novelty_jaccard=M.novel_at(texts), novelty_at_2=M.novel_at(texts, 2), novelty_at_3=M.novel_at(texts, 3),
        novelty_bertscore=M.novel_at(texts, sim=bert_sim) if bert_sim is not None else None,
        raw_output=sel.raw_output, parse_status=sel.parse_status, fallback_used=sel.fallback_used,
        selector_prompt_tokens=sel.prompt_tokens, selector_completion_tokens=sel.completion_tokens,
        latency_s=sel.latency_s,
    )
    if answer is not None:
        row.prediction, row.generator_output = answer.prediction, answer.raw
        row.generator_prompt_tokens = answer.prompt_tokens
        golds = cand.query.answers
        row.em = M.exact_match(answer.prediction, golds) if golds else None
        row.f1 = M.token_f1(answer.prediction, golds) if golds else None
        row.accuracy = M.answer_accuracy(answer.prediction, golds) if golds else None
    return row


def topk_curve(candidates: Sequence[Candidates], max_k: int) -> list[dict[str, float]]:
    """Mean precision/recall of the first k pool passages, k = 1..max_k (questions with gold)."""
    labelled = [(c.ids, [g for g in c.query.gold_passage_ids if g in set(c.ids)]) for c in candidates]
    labelled = [(ids, gold) for ids, gold in labelled if gold]
    curve = []
    for k in range(1, max_k + 1):
        prf = [M.set_prf(ids[:k], gold) for ids, gold in labelled]
        if prf:
            curve.append({"k": k, "precision": M.mean(x[0] for x in prf), "recall": M.mean(x[1] for x in prf)})
    return curve


def aggregate(rows: Sequence[QueryResult], *, uses_llm: bool, generated: bool) -> dict[str, Any]:
    """The metric part of metrics.json (without wall_s / method / model / dataset / k)."""
    llm = uses_llm and bool(rows)
    return {
        "n_queries": len(rows),
        "avg_selected": M.mean(r.n_selected for r in rows),
        "set_precision": M.mean(r.set_precision for r in rows),
        "set_recall": M.mean(r.set_recall for r in rows),
        "set_f1": M.mean(r.set_f1 for r in rows),
        "hit": M.mean(r.hit for r in rows),
        "coverage": M.mean(r.coverage for r in rows),
        "mrr@10": M.mean(r.mrr_at_10 for r in rows),
        "ndcg@10": M.mean(r.ndcg_at_10 for r in rows),
        "em": M.mean(r.em for r in rows) if generated else None,
        "f1": M.mean(r.f1 for r in rows) if generated else None,
        "accuracy": M.mean(r.accuracy for r in rows) if generated else None,
        "parse_failed_rate": M.mean(float(r.parse_status == "failed") for r in rows) if llm else None,
        "fallback_rate": M.mean(float(r.fallback_used is not None) for r in rows) if llm else None,
        "selector_completion_tokens": M.mean(r.selector_completion_tokens for r in rows) if llm else None,
        "generator_prompt_tokens": M.mean(r.generator_prompt_tokens for r in rows) if generated else None,
        "novelty_jaccard": M.mean(r.novelty_jaccard for r in rows),
    }


def build_result(candidates: Sequence[Candidates], selections: Sequence[Selection],
                 answers: Sequence[Answer] | None, *, k: int, method: str, uses_llm: bool,
                 model: str | None = None, dataset: str | None = None, wall_s: float = 0.0,
                 bert_sim: Callable[[str, str], float] | None = None) -> EvalResult:
    """Score aligned (candidates, selections[, answers]) into an :class:`EvalResult`."""
    if len(selections) != len(candidates) or (answers is not None and len(answers) != len(candidates)):
        raise ValueError("build_result: candidates, selections and answers must align one to one")
    rows = [score_query(c, s, None if answers is None else answers[i], k, bert_sim)
            for i, (c, s) in enumerate(zip(candidates, selections))]
    metrics = aggregate(rows, uses_llm=uses_llm, generated=answers is not None)
    metrics.update({"wall_s": round(wall_s, 3), "method": method, "model": model, "dataset": dataset, "k": k})
    max_k = min(MAX_CURVE_K, max((len(c.passages) for c in candidates), default=0))
    return EvalResult(metrics={key: metrics[key] for key in METRIC_KEYS}, rows=rows,
                      topk_curve=topk_curve(candidates, max_k))


def evaluate(candidates: Sequence[Candidates], selector, *, k: int, generate: bool = False, generator=None,
             shuffle_seed: int | None = None, limit: int | None = None, progress: bool = True,
             batch_size: int = 8, max_answer_tokens: int = DEFAULT_MAX_TOKENS, dataset: str | None = None,
             model: str | None = None, novelty_bertscore: bool = False,
             generator_options: dict[str, Any] | None = None, journal=None) -> EvalResult:
    """Evaluate ``selector`` on ``candidates``.

    Args:
        candidates: the questions and pools (e.g. from :func:`setsel.datasets.load_dataset`).
        selector: a :class:`~setsel.selection.Selector`.
        k: the k of Hit@k (and recorded in the metrics).
        generate: also answer each question from its selection and score EM/F1/accuracy.
        generator: an engine, or a model id for :func:`setsel.engines.load_engine`
            (default ``DEFAULT_MODEL``); an engine loaded here is closed afterwards.
        generator_options: keyword options for ``load_engine`` when ``generator`` is an id
            (e.g. ``{"num_threads": 1}``).
        shuffle_seed: permute each pool first (gold labels follow the passages).
        limit: evaluate only the first ``limit`` questions.
        progress: show a tqdm progress bar.
        batch_size: questions per ``selector.select`` / generator call.
        dataset, model: recorded in the metrics.
        novelty_bertscore: also compute Novel@all with BERTScore-F1 per question (needs the
            ``bert_score`` package; ``ImportError`` otherwise).
        journal: a :class:`~setsel.evaluation.journal.Journal`: questions it holds are not
            selected again, and each finished batch is appended to it (resumable runs).
    Returns:
        :class:`EvalResult`; ``metrics`` has exactly :data:`METRIC_KEYS`.
    """
    from tqdm import tqdm

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int ≥ 1, got {batch_size!r}")
    start = time.perf_counter()
    bert_sim = None
    if novelty_bertscore:
        from setsel.evaluation.bertscore import bertscore_similarity

        bert_sim = bertscore_similarity()
    items = prepare(candidates, limit=limit, shuffle_seed=shuffle_seed)
    keys = question_keys(items)
    done = journal.finished() if journal is not None else {}
    todo = [i for i, key in enumerate(keys) if key not in done]
    earlier_wall = sum(float(done[key].get("wall_s") or 0.0) for key in keys if key in done)
    engine, owned = None, False
    if generate and todo:
        engine = generator
        if engine is None or isinstance(engine, str):
            from setsel.engines import DEFAULT_MODEL, load_engine

            engine, owned = load_engine(engine or DEFAULT_MODEL, **(generator_options or {})), True
    fresh: dict[int, tuple[Selection, Answer | None]] = {}
    try:
        with tqdm(total=len(items), initial=len(items) - len(todo), desc=f"eval {selector.name}", unit="q",
                  disable=not progress) as bar:
            for b in range(0, len(todo), batch_size):
                idx = todo[b:b + batch_size]
                t0 = time.perf_counter()
                sels, ans = run_batch(selector, [items[i] for i in idx], engine, max_answer_tokens)
                per_q = (time.perf_counter() - t0) / len(idx)
                for n, i in enumerate(idx):
                    fresh[i] = (sels[n], ans[n] if ans is not None else None)
                if journal is not None:
                    journal.append([{"key": keys[i], "selection": fresh[i][0].to_dict(),
                                     "answer": asdict(fresh[i][1]) if fresh[i][1] is not None else None,
                                     "wall_s": per_q} for i in idx])
                bar.update(len(idx))
    finally:
        if owned:
            engine.close()
    selections: list[Selection] = []
    answers: list[Answer] | None = [] if generate else None
    for i, key in enumerate(keys):
        if i in fresh:
            sel, ans = fresh[i]
        else:
            sel = Selection.from_dict(done[key]["selection"])
            ans = Answer(**done[key]["answer"]) if done[key].get("answer") else None
        selections.append(sel)
        if answers is not None:
            if ans is None:
                raise ValueError(f"journal entry {key} has no answer but this run generates answers")
            answers.append(ans)
    start -= earlier_wall
    return build_result(items, selections, answers, k=k, method=selector.name, uses_llm=selector.uses_llm,
                        model=model, dataset=dataset, wall_s=time.perf_counter() - start, bert_sim=bert_sim)
