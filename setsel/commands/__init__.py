"""CLI subcommands: each module has ``add_arguments(parser)`` and ``run(args) -> int``.

Keep heavy imports (torch, ray, faiss, transformers) inside ``run``.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_config_arguments(parser: argparse.ArgumentParser, example: str, default_config: str) -> None:
    """``--config``, ``--set KEY=VALUE`` (repeatable) and ``--print-config``: the trainer commands' inputs."""
    parser.add_argument("--config", default=None, help=f"config ({default_config})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override a config value, e.g. {example}")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def load_or_print(cls: type, args: argparse.Namespace) -> Any | None:
    """The config of ``args`` (``None`` after printing it for ``--print-config``); INFO logging set up."""
    import json
    import logging

    from setsel.config import config_to_dict, load_config

    cfg = load_config(cls, args.config, args.overrides)
    if args.print_config:
        print(json.dumps(config_to_dict(cfg), indent=2))
        return None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    return cfg


def print_training_summary(meta: dict[str, Any], skip: tuple[str, ...] = ("tuned_question_ids",)) -> None:
    """A trainer's returned record as JSON, without long id lists and the echoed config."""
    import json

    summary = {k: v for k, v in meta.items() if k not in skip}
    summary["train"] = {k: v for k, v in meta.get("train", {}).items() if k != "config"}
    print(json.dumps(summary, indent=2))

