"""``setsel train-cross-encoder``: train the cross-encoder baseline selector (issue 18).

Reads a ``configs/train_cross_encoder.yaml`` file
(:class:`setsel.training.cross_encoder.CrossEncoderTrainConfig`) with ``--set a.b=value``
overrides; trains MiniLM with a new head on (question, passage, gold?) pairs of the
training questions, tunes a score threshold for set F1 on held-out training questions and
writes ``<out>/`` (the model + ``setsel_selector.json``). Use the result with
``get_selector("cross_encoder", model="runs/cross_encoder")`` or
``setsel select --method cross_encoder --model runs/cross_encoder``. A rerun with the same
``out`` resumes from the last finished epoch.

Example:
    setsel train-cross-encoder --config configs/train_cross_encoder.yaml
    setsel train-cross-encoder --config configs/train_cross_encoder.yaml --set epochs=2 --set out=runs/ce2
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="config (configs/train_cross_encoder.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set epochs=2 --set num_threads=2")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    import json
    import logging

    from setsel.config import config_to_dict, load_config
    from setsel.training.cross_encoder import CrossEncoderTrainConfig, train_cross_encoder

    cfg = load_config(CrossEncoderTrainConfig, args.config, args.overrides)
    if args.print_config:
        print(json.dumps(config_to_dict(cfg), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    meta = train_cross_encoder(cfg)
    summary = {k: v for k, v in meta.items() if k != "tuned_question_ids"}
    summary["train"] = {k: v for k, v in meta["train"].items() if k != "config"}
    print(json.dumps(summary, indent=2))
    print(f"cross-encoder selector: {cfg.out} (get_selector('cross_encoder', model={cfg.out!r}))", flush=True)
    return 0
