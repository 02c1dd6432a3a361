"""``setsel version``: print the version of setsel and of its key libraries (if installed)."""

from __future__ import annotations

import argparse
from importlib import metadata


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="also list versions of key dependencies")


def run(args: argparse.Namespace) -> int:
    from setsel import __version__

    print(f"setsel {__version__}")
    if args.all:
        for dist in ("torch", "transformers", "ray", "peft", "deepspeed", "faiss-cpu", "bm25s", "vllm", "xgrammar"):
            try:
                print(f"{dist} {metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                print(f"{dist} (not installed)")
    return 0
