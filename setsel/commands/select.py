"""``setsel select``: run a selection method over a candidates file; write Selection Parquet.

The candidates file is a setsel Candidates file (Parquet or JSONL, :mod:`setsel.io`) or
the simple JSONL format of :func:`setsel.datasets.generic.load_generic`. Questions go to the
selector ``--batch-size`` at a time (each batch is one engine call per stage); a progress
bar shows questions done. The output (``.parquet`` or ``.jsonl``) holds one
:class:`~setsel.types.Selection` per question, in input order, with the method and its
options in the file metadata.

Example:
    setsel select --candidates runs/cands.parquet --method setr --variant selection_only \\
        --model hf:smollm2-135m --max-passages 3 --out runs/setr.parquet
    setsel select --candidates runs/cands.parquet --method mmr --k 3 --option lambda_=0.7 --out runs/mmr.parquet
    setsel select --candidates runs/cands.parquet --config configs/select_optiset.yaml --out runs/optiset.parquet
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidates", required=True, help="Candidates file (.parquet / .jsonl)")
    parser.add_argument("--config", help="YAML with 'method' and 'options' (configs/select*.yaml); flags override it")
    parser.add_argument("--method", help="selection method (llm_head, topk, setr, optiset, listwise, cross_encoder, mmr, lexical)")
    parser.add_argument("--variant", help="setr: iri | cot | selection_only | trained; the shipped trained selector is --method llm_head")
    parser.add_argument("--model", help="model id (LLM methods: e.g. hf:smollm2-135m; cross_encoder: a folder)")
    parser.add_argument("--k", type=int, help="size for ranking methods and the topk fallback (default 5)")
    parser.add_argument("--max-passages", type=int, help="budget on the selected-set size")
    parser.add_argument("--no-constraint", action="store_true",
                        help="LLM methods: free generation without the selection grammar")
    parser.add_argument("--reasoning-tokens", type=int, help="LLM methods: reasoning budget before selecting")
    parser.add_argument("--fallback", help="on a failed parse: topk:N (default topk:<k>) or empty")
    parser.add_argument("--shuffle-candidates", type=int, metavar="SEED",
                        help="permute each pool before selecting (deterministic per seed and question)")
    parser.add_argument("--batch-size", type=int, help="questions per selector call, and the engine's batch size "
                                                       "for LLM methods (default 8)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="any other selector option, e.g. expand=false, lambda_=0.7, window=20 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--out", required=True, help="output file (.parquet or .jsonl); finished questions are kept in "
                        "OUT.journal.jsonl as they finish, and rerunning the same command resumes from there")
    parser.add_argument("--overwrite", action="store_true", help="discard an earlier run's OUT.journal.jsonl "
                        "(needed when it holds a run with other settings)")
    parser.add_argument("--trec-run", metavar="PATH", help="also write the selections as a TREC run (selection order)")
    parser.add_argument("--trec-qrels", metavar="PATH",
                        help="also write the candidates' gold passages present in each pool as TREC qrels")


def load_select_config(path: str | None) -> tuple[str | None, dict]:
    """``(method, options)`` from a ``configs/select*.yaml`` file (``(None, {})`` without one)."""
    if path is None:
        return None, {}
    import yaml

    from setsel.config import ConfigError

    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    unknown = sorted(set(data) - {"method", "options"}) if isinstance(data, dict) else ["(not a mapping)"]
    if unknown or not isinstance(data.get("options", {}) or {}, dict):
        raise ConfigError(f"{path}: expected keys 'method' and 'options' (a mapping); got {unknown or data}")
    return data.get("method"), dict(data.get("options") or {})


def selector_options(args: argparse.Namespace, base: dict | None = None) -> dict:
    """The ``get_selector`` options: the config file's, then ``--option``, then the flags given."""
    from setsel.config import ConfigError, parse_overrides

    options = parse_overrides(args.option)
    flags = {"variant": args.variant, "model": args.model, "k": args.k, "max_passages": args.max_passages,
             "reasoning_tokens": args.reasoning_tokens, "fallback": args.fallback,
             "shuffle_seed": args.shuffle_candidates}
    if args.no_constraint:
        flags["constrained"] = False
    if args.batch_size is not None and args.method in ("setr", "optiset", "listwise", "cross_encoder"):
        flags["batch_size"] = args.batch_size
    given = {k: v for k, v in flags.items() if v is not None}
    clash = sorted(set(given) & set(options))
    if clash:
        raise ConfigError(f"--option repeats {clash}; use their own flags")
    return {**(base or {}), **given, **options}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from setsel.datasets.generic import load_generic
    from setsel.io import write_records
    from setsel.selection import SelectorError, get_selector

    per_call = 8 if args.batch_size is None else args.batch_size
    if per_call < 1 or (args.limit is not None and args.limit < 0):
        print("setsel select: error: --batch-size must be ≥ 1 and --limit ≥ 0", file=sys.stderr)
        return 2
    method, base = load_select_config(args.config)
    args.method = args.method or method
    if not args.method:
        print("setsel select: error: give --method or a --config with 'method'", file=sys.stderr)
        return 2
    try:
        options = selector_options(args, base)
        selector = get_selector(args.method, **options)
    except SelectorError as exc:
        print(f"setsel select: error: {exc}", file=sys.stderr)
        return 2
    candidates = load_generic(args.candidates)
    if args.limit is not None:
        candidates = candidates[: args.limit]
    from pathlib import Path

    from setsel.evaluation.journal import Journal, question_keys
    from setsel.types import Selection

    keys = question_keys(candidates)
    fingerprint = {"method": args.method, "candidates": str(Path(args.candidates).resolve()), "limit": args.limit,
                   "batch_size": per_call,
                   "options": {k: v for k, v in options.items() if k != "engine"}}
    journal = Journal(Path(str(args.out) + ".journal.jsonl"), fingerprint, overwrite=args.overwrite)
    done = journal.finished()
    todo = [i for i, key in enumerate(keys) if key not in done]
    fresh: dict[int, Selection] = {}
    try:
        with tqdm(total=len(candidates), initial=len(candidates) - len(todo), desc=f"select {args.method}", unit="q",
                  disable=args.no_progress) as bar:
            for start in range(0, len(todo), per_call):
                idx = todo[start : start + per_call]
                for i, sel in zip(idx, selector.select([candidates[i] for i in idx])):
                    fresh[i] = sel
                journal.append([{"key": keys[i], "selection": fresh[i].to_dict()} for i in idx])
                bar.update(len(idx))
    finally:
        selector.close()
    selections = [fresh[i] if i in fresh else Selection.from_dict(done[key]["selection"]) for i, key in enumerate(keys)]
    meta = {"method": args.method, "options": {k: v for k, v in options.items() if k != "engine"},
            "candidates": str(args.candidates)}
    path = write_records(args.out, selections, extra_metadata=meta)
    try:
        _write_trec(args, candidates, selections)
    except ValueError as exc:
        print(f"setsel select: error: TREC files: {exc}", file=sys.stderr)
        return 2
    failed = sum(s.parse_status == "failed" for s in selections)
    fallbacks = sum(s.fallback_used is not None for s in selections)
    print(f"{args.method}: {len(selections)} selections, {failed} failed parses, {fallbacks} fallbacks; wrote {path}")
    return 0


def _write_trec(args: argparse.Namespace, candidates, selections) -> None:
    """``--trec-run`` / ``--trec-qrels`` (gold restricted to each pool, as ``setsel eval`` scores it)."""
    from setsel.evaluation.trec import write_qrels, write_run

    if args.trec_run:
        write_run(args.trec_run, [(s.query_id, s.selected_ids, None) for s in selections], tag=f"setsel-{args.method}")
    if args.trec_qrels:
        write_qrels(args.trec_qrels, [(c.query.id, [g for g in c.query.gold_passage_ids if g in set(c.ids)])
                                      for c in candidates])
