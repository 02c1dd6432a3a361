"""Evaluation on Ray: selection (and answering) sharded over a Ray Data actor pool.

The driver loads the dataset and applies ``limit`` / ``--shuffle-candidates`` exactly as
the local runner does (:func:`setsel.evaluation.runner.prepare`); each actor of a
``map_batches`` pool holds one selector (and one generator engine when answers are
generated) and runs :func:`setsel.evaluation.runner.run_batch` on its batches; the driver
puts the results back in question order (:func:`setsel.distributed.pool.map_rows`, journalled
as they arrive) and scores them with the same
:func:`~setsel.evaluation.runner.build_result`, so a Ray run's metrics equal a local
run's. Actors ask for ``ray.num_cpus_per_actor`` (0.5) CPUs and the pool has a fixed
size (``ActorPoolStrategy``): on a 2-core machine, actors holding whole CPUs starve the
read tasks and the pipeline hangs (../shared/ENVIRONMENT.md).

Rows travel as JSON strings (``Candidates.to_dict``), so pools of any shape pass through
Arrow unchanged.

Example::

    init_ray()
    result = evaluate_on_ray(load_config(EvalJobConfig, "configs/eval.yaml"))
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from setsel.evaluation.job import EvalJobConfig, generator_id, load_candidates, open_journal, selector_options
from setsel.evaluation.journal import question_keys


class SelectActor:
    """A ``map_batches`` callable: builds the selector (and generator) once, then runs batches."""

    def __init__(self, method: str, options: dict[str, Any], generator: str | None, max_answer_tokens: int,
                 generator_options: dict[str, Any] | None = None) -> None:
        from setsel.selection import get_selector

        self.selector = get_selector(method, **options)
        self.max_answer_tokens = max_answer_tokens
        self.engine = None
        if generator is not None:
            from setsel.engines import load_engine

            self.engine = load_engine(generator, **(generator_options or {}))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from setsel.evaluation.runner import run_batch
        from setsel.types import Candidates

        cands = [Candidates.from_dict(json.loads(s)) for s in batch["candidates"]]
        selections, answers = run_batch(self.selector, cands, self.engine, self.max_answer_tokens)
        return {
            "selection": [json.dumps(s.to_dict(), ensure_ascii=False) for s in selections],
            "answer": ["" if answers is None else json.dumps(asdict(a), ensure_ascii=False)
                       for a in (answers or [None] * len(cands))],
        }


def evaluate_on_ray(cfg: EvalJobConfig):
    """Run ``cfg`` with selection on a Ray actor pool (Ray must be initialised). Returns an EvalResult."""
    from setsel.distributed.pool import ActorPool, map_rows
    from setsel.evaluation.answer import Answer
    from setsel.evaluation.runner import build_result, prepare
    from setsel.selection import get_selector_class
    from setsel.types import Selection

    cls = get_selector_class(cfg.method)
    options = selector_options(cfg)
    cls.options_cls.from_options(cls.name, **options)  # bad options fail here, not inside an actor
    candidates = load_candidates(cfg)
    start = time.perf_counter()  # as the local runner: dataset loading is not timed
    items = prepare(candidates, shuffle_seed=cfg.shuffle_candidates)
    if not items:
        return build_result([], [], [] if cfg.generate else None, k=cfg.k, method=cls.name, uses_llm=cls.uses_llm,
                            model=cfg.model, dataset=cfg.dataset, wall_s=time.perf_counter() - start)
    # Resumable as the local run: finished questions come from cfg.out/journal.jsonl, new ones
    # are appended there as the actors return them.
    journal = open_journal(cfg)
    keys = question_keys(items)
    done = journal.finished()
    start -= sum(float(done[k].get("wall_s") or 0.0) for k in keys if k in done)
    todo = [i for i in range(len(items)) if keys[i] not in done]
    rows = [{"candidates": json.dumps(items[i].to_dict(), ensure_ascii=False)} for i in todo]
    results: dict[int, dict[str, Any]] = {}
    if rows:
        out = map_rows(rows, SelectActor,
                       {"method": cfg.method, "options": options, "generator": generator_id(cfg),
                        "max_answer_tokens": cfg.max_answer_tokens, "generator_options": cfg.generator_options},
                       ActorPool.of(cfg.ray), batch_size=cfg.batch_size)
        pending: list[dict[str, Any]] = []
        last = time.perf_counter()
        for position, r in out:
            i = todo[position]
            results[i] = {"key": keys[i], "selection": json.loads(r["selection"]),
                          "answer": json.loads(r["answer"]) if r["answer"] else None}
            pending.append(results[i])
            if len(pending) >= cfg.batch_size:
                now = time.perf_counter()
                journal.append([{**p, "wall_s": (now - last) / len(pending)} for p in pending])
                pending, last = [], now
        if pending:
            now = time.perf_counter()
            journal.append([{**p, "wall_s": (now - last) / len(pending)} for p in pending])
    missing = [k for i, k in enumerate(keys) if i not in results and k not in done]
    if missing:
        raise RuntimeError(f"Ray evaluation returned no result for {len(missing)} of {len(items)} questions")
    records = [results[i] if i in results else done[k] for i, k in enumerate(keys)]
    selections = [Selection.from_dict(r["selection"]) for r in records]
    answers = [Answer(**r["answer"]) for r in records] if cfg.generate else None
    return build_result(items, selections, answers, k=cfg.k, method=cls.name, uses_llm=cls.uses_llm,
                        model=cfg.model, dataset=cfg.dataset, wall_s=time.perf_counter() - start)
