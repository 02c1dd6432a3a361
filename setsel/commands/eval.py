"""``setsel eval``: evaluate a selection method on a benchmark; write metrics, per-question
results, a report and plots (see :mod:`setsel.evaluation`).

Example:
    setsel eval --dataset hotpotqa-ircot --method topk --k 5 --out runs/topk5
    setsel eval --dataset musique --method topk --k 3 --generate --generator hf:smollm2-135m --limit 20 --out runs/m
    setsel eval --dataset openret --method optiset --option expand=false --option reasoning_tokens=64 --limit 100 --out runs/o

Or from a config file (``configs/eval.yaml``, :class:`~setsel.evaluation.job.EvalJobConfig`, the
same file ``python -m jobs.evaluate`` reads), with ``--set key=value`` and any flag on top
(flag > ``--set`` > file > defaults)::

    setsel eval --config configs/eval.yaml --set method=llm_head --shuffle-candidates 0 --out runs/h

``--set ray.enabled=true`` runs the selection on a Ray actor pool (as ``python -m jobs.evaluate``).

Resumable: finished questions are appended to OUT/journal.jsonl batch by batch; the same
command run again (after a kill, a dead model server, Ctrl-C) computes only the rest.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from setsel.datasets import list_datasets

    from setsel.commands import add_config_file_arguments

    add_config_file_arguments(parser, "--set selector_options.threshold=0.3", "configs/eval.yaml: EvalJobConfig")
    parser.add_argument("--dataset", choices=list_datasets(), help="benchmark loader (required without --config)")
    parser.add_argument("--data", help="file or directory (default: the dataset's file under the data dir)")
    parser.add_argument("--qa", help="openret only: the <split>_qa.jsonl paired with --data")
    parser.add_argument("--method", help="selection method (llm_head, topk, setr, optiset, ...; required without "
                        "--config)")
    parser.add_argument("--variant", help="method variant (e.g. setr: iri | cot | selection_only | trained; "
                        "the shipped trained selector is --method llm_head)")
    parser.add_argument("--model", help="selector model id (LLM methods)")
    parser.add_argument("--k", type=int, help="k of top-k methods and of Hit@k (default 5)")
    parser.add_argument("--max-passages", type=int, help="budget on the selected-set size")
    parser.add_argument("--limit", type=int, help="evaluate only the first N questions")
    parser.add_argument("--seed", type=int, help="seed for a method's sampling")
    parser.add_argument("--shuffle-candidates", type=int, metavar="SEED",
                        help="permute each pool before selection (deterministic per seed and question)")
    parser.add_argument("--generate", action="store_true", default=None,
                        help="answer from the selection; score EM/F1/accuracy")
    parser.add_argument("--generator", help="generator model id (default hf:smollm2-135m); needs --generate")
    parser.add_argument("--generator-option", action="append", default=[], metavar="KEY=VALUE",
                        help="engine option for the generator, e.g. num_threads=1 (repeatable)")
    parser.add_argument("--max-answer-tokens", type=int, help="answer length budget (default 32)")
    parser.add_argument("--novelty-bertscore", action="store_true", default=None,
                        help="also BERTScore-F1 novelty per question (needs the bert_score package)")
    parser.add_argument("--batch-size", type=int, help="questions per selector/generator call (default 8)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="any other selector option, e.g. constrained=false, expand=false, reasoning_tokens=64, "
                             "engine_options.num_threads=1 (repeatable)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--out", help="output directory (required without --config); finished questions are kept in "
                        "OUT/journal.jsonl, and rerunning the same command resumes from there")
    parser.add_argument("--overwrite", action="store_true", default=None,
                        help="discard an earlier run in OUT (needed when OUT holds a run with other settings)")


FLAG_FIELDS = ("dataset", "data", "qa", "method", "variant", "model", "k", "max_passages", "limit", "seed",
               "shuffle_candidates", "generate", "generator", "max_answer_tokens", "novelty_bertscore",
               "batch_size", "out", "overwrite")
"""The flags that are one :class:`EvalJobConfig` field each (same name)."""


def build_eval_config(args: argparse.Namespace):
    """The :class:`EvalJobConfig` of a command line: defaults < ``--config`` file < ``--set`` < flags.

    Raises:
        ConfigError: a bad file, key or value, or a required field missing without a file.
    """
    from setsel.commands import config_from_args
    from setsel.config import parse_overrides
    from setsel.evaluation.job import EvalJobConfig

    flags = {name: getattr(args, name) for name in FLAG_FIELDS}
    flags["progress"] = False if args.no_progress else None
    flags["selector_options"] = parse_overrides(args.option)
    flags["generator_options"] = parse_overrides(args.generator_option)
    return config_from_args(EvalJobConfig, args, flags, required=("dataset", "method", "out"))


def run(args: argparse.Namespace) -> int:
    from setsel.config import ConfigError
    from setsel.distributed.stages import run_eval
    from setsel.selection import SelectorError

    try:
        cfg = build_eval_config(args)
        result, paths = run_eval(cfg)
    except (SelectorError, ConfigError, ImportError) as exc:
        print(f"setsel eval: error: {exc}", file=sys.stderr)
        return 2
    m = result.metrics
    shown = ", ".join(f"{key}={m[key]:.4f}" for key in ("set_precision", "set_recall", "hit", "ndcg@10", "em", "f1")
                      if isinstance(m[key], float))
    print(f"{m['method']} on {m['dataset']}: {m['n_queries']} questions, {shown}, {m['wall_s']:.2f}s")
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0
