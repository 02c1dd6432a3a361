"""Synthesise selector training data: ``python -m jobs.synthesize --config configs/synthesize.yaml [--set a.b=v]``.

The same job as ``setsel synthesize``; this entry point is what
``ray job submit --working-dir . -- python -m jobs.synthesize ...`` runs on a cluster.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from setsel.cli import EXIT_USAGE
    from setsel.commands import synthesize
    from setsel.config import ConfigError
    from setsel.types import SchemaError

    parser = argparse.ArgumentParser(prog="python -m jobs.synthesize", description=__doc__.splitlines()[0])
    synthesize.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return synthesize.run(args)
    except (ConfigError, SchemaError, FileNotFoundError) as exc:
        print(f"jobs.synthesize: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
