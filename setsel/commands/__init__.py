"""CLI subcommands: each module has ``add_arguments(parser)`` and ``run(args) -> int``.

Keep heavy imports (torch, ray, faiss, transformers) inside ``run``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

LOG_NAME = "setsel.log"


def start_log(folder: str | Path) -> Path:
    """Log the libraries and Ray to ``folder/setsel.log`` from now on (:func:`setsel.logs.log_to_file`)."""
    from setsel.logs import log_to_file

    return log_to_file(Path(folder) / LOG_NAME)


def log_note(path: Path) -> str:
    """The closing line that names where the logs went (and a running local Ray's own folder)."""
    import sys

    note = f"logs: {path}"
    if "ray" in sys.modules:
        from setsel.distributed.runtime import ray_log_folder

        folder = ray_log_folder()
        if folder:
            note += f" (Ray workers, Serve, Ray Data: {folder})"
    return note


def add_config_arguments(parser: argparse.ArgumentParser, example: str, default_config: str) -> None:
    """``--config``, ``--set KEY=VALUE`` (repeatable) and ``--print-config``: the trainer commands' inputs."""
    add_config_file_arguments(parser, example, default_config)
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def add_config_file_arguments(parser: argparse.ArgumentParser, example: str, default_config: str) -> None:
    """``--config`` and ``--set KEY=VALUE`` for a command whose flags are shortcuts for config fields."""
    parser.add_argument("--config", default=None,
                        help=f"config file ({default_config}); --set and the flags override it")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override a config value, e.g. {example} (repeatable)")


def config_from_args(cls: type, args: argparse.Namespace, flags: dict[str, Any], required: tuple[str, ...] = ()) -> Any:
    """The config of a command line: ``cls`` defaults < ``--config`` file < ``--set`` < the flags
    given (``flags``: field → value, ``None`` = not given; nested fields as nested dicts).

    Raises:
        ConfigError: a bad file, key or value; or, without ``--config``, a field of ``required``
        that no flag or ``--set`` gave (named as its flag).
    """
    from setsel.config import ConfigError, build_config, merge_config, parse_overrides, read_config_file

    def given(tree: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in tree.items():
            if isinstance(value, dict):
                value = given(value)
                if not value:
                    continue
            elif value is None:
                continue
            out[key] = value
        return out

    data = merge_config(merge_config(read_config_file(args.config), parse_overrides(args.overrides)), given(flags))
    if args.config is None:
        missing = [f"--{name.replace('_', '-')}" for name in required if data.get(name) is None]
        if missing:
            raise ConfigError(f"the following arguments are required without --config: {', '.join(missing)}")
    return build_config(cls, data)


def load_or_print(cls: type, args: argparse.Namespace) -> Any | None:
    """The config of ``args`` (``None`` after printing it for ``--print-config``); logging set up
    to ``<cfg.out>/setsel.log`` (:func:`start_log`), setsel's own INFO lines on the terminal."""
    import json

    from setsel.config import config_to_dict, load_config

    cfg = load_config(cls, args.config, args.overrides)
    if args.print_config:
        print(json.dumps(config_to_dict(cfg), indent=2))
        return None
    start_log(cfg.out)
    return cfg


def print_training_summary(meta: dict[str, Any], skip: tuple[str, ...] = ("tuned_question_ids",)) -> None:
    """A trainer's returned record as JSON, without long id lists and the echoed config."""
    import json

    summary = {k: v for k, v in meta.items() if k not in skip}
    summary["train"] = {k: v for k, v in meta.get("train", {}).items() if k != "config"}
    print(json.dumps(summary, indent=2))

