"""``setsel synthesize``: build selector training data (OptiSet Algorithm 1, SetR teacher labels, or gold labels).

Reads a ``configs/synthesize*.yaml`` (:class:`setsel.synthesis.job.SynthesisConfig`) with
``--set a.b=value`` overrides. Resumable: rerun with the same ``out`` to continue.

Example:
    setsel synthesize --config configs/synthesize.yaml --set esr.k=4 --set "datasets=[{name: demo}]"
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="synthesis config (configs/synthesize*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set esr.k=4 --set ray.enabled=false")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def run(args: argparse.Namespace) -> int:
    import json

    from setsel.commands import log_note, start_log
    from setsel.config import config_to_dict, load_config
    from setsel.distributed.stages import run_synthesis as run_job
    from setsel.synthesis.job import SynthesisConfig

    overrides = list(args.overrides)
    cfg = load_config(SynthesisConfig, args.config, _list_overrides(overrides))
    if args.print_config:
        print(json.dumps(config_to_dict(cfg), indent=2))
        return 0
    log_path = start_log(cfg.out)
    summary = run_job(cfg)
    if cfg.mode == "gold":
        keys: tuple[str, ...] = ("n_questions_input", "n_kept", "n_examples", "gold_sizes", "dropped",
                                 "refused_eval", "wall_s")
        ok = bool(summary.get("n_examples"))
    else:
        keys = ("n_questions_input", "n_questions_sampled", "n_sets", "n_kept", "n_examples", "share_positive",
                "avg_set_size", "alpha", "beta", "dropped", "refused_eval", "wall_s", "resumed_skipped")
        ok = bool(summary.get("n_questions_sampled"))
    print(json.dumps({k: summary.get(k) for k in keys}, indent=2))
    print(f"training data: {cfg.out}/train.parquet" if ok else "no training data written", flush=True)
    print(log_note(log_path))
    return 0 if ok else 1


def _list_overrides(overrides: list[str]) -> list[str]:
    """Reject ``datasets.0.limit=5``-style overrides (list items are set as a whole list)."""
    for o in overrides:
        key = o.split("=", 1)[0]
        if any(part.isdigit() for part in key.split(".")):
            from setsel.config import ConfigError

            raise ConfigError(f"override {key}: list items cannot be set one by one; set the whole list, "
                              "e.g. --set 'datasets=[{name: demo, limit: 5}]'")
    return overrides
