"""Retrieve on Ray: ``python -m jobs.retrieve --config configs/retrieve.yaml [--set a.b=v]``.

The same retrieval as ``setsel retrieve`` (config fields = its flags, see
:class:`setsel.retrieval.job.RetrieveJobConfig`) with the queries fanned out over Ray Data
actors that each load the index once (:mod:`setsel.distributed.retrieve`). Writes the
Candidates Parquet that selection, synthesis and evaluation read. On a cluster:
``ray job submit --working-dir . -- python -m jobs.retrieve --config configs/retrieve.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from setsel.cli import EXIT_USAGE
    from setsel.config import ConfigError, load_config
    from setsel.datasets.common import DatasetError
    from setsel.retrieval.encoders import EncoderError
    from setsel.retrieval.index import IndexLoadError
    from setsel.distributed.stages import run_retrieve
    from setsel.retrieval.job import RetrieveJobConfig

    parser = argparse.ArgumentParser(prog="python -m jobs.retrieve", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/retrieve.yaml", help="YAML config (RetrieveJobConfig)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set k=50 --set ray.num_actors=4")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(RetrieveJobConfig, args.config, [*args.overrides, "ray.enabled=true"])
        summary = run_retrieve(cfg)
    except (ConfigError, DatasetError, EncoderError, IndexLoadError, FileNotFoundError) as exc:
        print(f"jobs.retrieve: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"retrieved: {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
