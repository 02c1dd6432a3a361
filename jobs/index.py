"""Build an index on Ray: ``python -m jobs.index --config configs/index.yaml [--set a.b=v]``.

The same build as ``setsel index`` (config fields = its flags, see
:class:`setsel.retrieval.job.IndexJobConfig`) with the embedding shards encoded by a Ray
Data actor pool (:mod:`setsel.distributed.index`; ``ray.num_gpus_per_actor: 1`` on a GPU
cluster). A killed job resubmitted with the same config skips finished shards. On a cluster:
``ray job submit --working-dir . -- python -m jobs.index --config configs/index_paper.yaml``.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from setsel.cli import EXIT_USAGE
    from setsel.config import ConfigError, load_config
    from setsel.datasets.common import DatasetError
    from setsel.retrieval.dense import DenseIndexError
    from setsel.retrieval.encoders import EncoderError
    from setsel.retrieval.index import IndexLoadError
    from setsel.distributed.stages import run_index
    from setsel.retrieval.job import IndexJobConfig

    parser = argparse.ArgumentParser(prog="python -m jobs.index", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/index.yaml", help="YAML config (IndexJobConfig)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set retriever=dense --set ray.num_actors=4")
    args = parser.parse_args(argv)
    try:
        cfg = load_config(IndexJobConfig, args.config, [*args.overrides, "ray.enabled=true"])
        manifest = run_index(cfg)
    except (ConfigError, DatasetError, DenseIndexError, EncoderError, IndexLoadError, FileNotFoundError) as exc:
        print(f"jobs.index: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    shown = {k: manifest.get(k) for k in ("retriever", "count", "skipped_empty", "factory", "wall_s")}
    print(f"indexed into {cfg.out}: {json.dumps(shown)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
