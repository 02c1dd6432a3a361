"""``setsel train-head``: train the ``llm_head`` selector (SmolLM2 + LoRA + per-passage head, issue 18).

Reads a ``configs/train_head.yaml`` file (:class:`setsel.training.head.HeadTrainConfig`) with
``--set a.b=value`` overrides; trains on the gold-labelled training questions (evaluation
questions refused, pools without gold dropped), tunes the selection rule on held-out
training questions and writes ``<out>/`` (adapter, head, ``setsel_head.json``,
``metrics.jsonl``, ``train_loss.png``). Use the result with
``get_selector("llm_head", model="runs/llm_head")`` or
``setsel eval --method llm_head --option model=runs/llm_head``. Killed and rerun with the
same config, it resumes from the last checkpoint.

Example:
    setsel train-head --config configs/train_head.yaml
    setsel train-head --config configs/train_head.yaml --set epochs=1 --set out=runs/head1
    setsel train-head --config configs/train_head.yaml --retune runs/llm_head   # only the selection rule
"""

from __future__ import annotations

import argparse

from setsel.commands import add_config_arguments, load_or_print, log_note, print_training_summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "--set epochs=1 --set limit=50", "configs/train_head.yaml")
    parser.add_argument("--retune", metavar="FOLDER", default=None,
                        help="do not train: re-tune the selection rule (threshold or expected F1) of the trained "
                             "model FOLDER on the config's held-out training questions")


def run(args: argparse.Namespace) -> int:
    import json

    from setsel.logs import current_log_file
    from setsel.training.head import HeadTrainConfig, train_head
    from setsel.training.head_tune import retune

    cfg = load_or_print(HeadTrainConfig, args)
    if cfg is None:
        return 0
    if args.retune:
        meta = retune(args.retune, cfg)
        print(json.dumps({k: meta[k] for k in ("rule", "threshold", "temperature", "min_passages", "tuned_on",
                                               "tuned_set_f1", "tuned_rules")}, indent=2))
        return 0
    print_training_summary(train_head(cfg))
    print(f"llm_head selector: {cfg.out} (get_selector('llm_head', model={cfg.out!r}))", flush=True)
    print(log_note(current_log_file()))
    return 0
