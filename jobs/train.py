"""Train the selector with Ray Train: ``python -m jobs.train --config configs/train_setlist.yaml [--set a.b=v]``.

The same job as ``setsel train`` (see :mod:`setsel.commands.train` for the options); this
entry point is what ``ray job submit -- python -m jobs.train ...`` runs on a cluster.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from setsel.cli import EXIT_USAGE
    from setsel.commands import train
    from setsel.config import ConfigError
    from setsel.types import SchemaError

    parser = argparse.ArgumentParser(prog="python -m jobs.train", description=__doc__.splitlines()[0])
    train.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return train.run(args)
    except (ConfigError, SchemaError, FileNotFoundError) as exc:
        print(f"jobs.train: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
