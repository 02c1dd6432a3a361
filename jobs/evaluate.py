"""Evaluate a selector on Ray: ``python -m jobs.evaluate --config configs/eval.yaml [--set a.b=v]``.

The same evaluation as ``setsel eval`` (config fields = its flags, see
:class:`setsel.evaluation.job.EvalJobConfig`), with selection and answering sharded over
a Ray Data actor pool (:mod:`setsel.distributed.evaluate`); writes the same
metrics.json, per_query.parquet, report.md and plots. On a cluster:
``ray job submit --working-dir . -- python -m jobs.evaluate --config configs/eval.yaml``.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from setsel.cli import EXIT_USAGE
    from setsel.config import ConfigError, load_config
    from setsel.evaluation.job import EvalJobConfig
    from setsel.selection import SelectorError
    from setsel.types import SchemaError

    parser = argparse.ArgumentParser(prog="python -m jobs.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/eval.yaml", help="YAML config (EvalJobConfig)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set k=3 --set ray.num_actors=4")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(EvalJobConfig, args.config, [*args.overrides, "ray.enabled=true"])
        result, paths = run(cfg)
    except (ConfigError, SchemaError, SelectorError, FileNotFoundError) as exc:
        print(f"jobs.evaluate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    m = result.metrics
    print(f"{m['method']} on {m['dataset']}: {m['n_queries']} questions in {m['wall_s']:.2f}s; "
          f"wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def run(cfg):
    """Evaluate on Ray (local on 127.0.0.1, or ``cfg.ray.address``) and write the outputs
    (:func:`setsel.distributed.stages.run_eval` with ``ray.enabled``)."""
    from dataclasses import replace

    from setsel.distributed.stages import run_eval

    return run_eval(replace(cfg, ray=replace(cfg.ray, enabled=True)))


if __name__ == "__main__":
    sys.exit(main())
