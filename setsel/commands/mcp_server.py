"""``setsel mcp``: serve selection to MCP clients (agents, IDEs) over stdio (see :mod:`setsel.mcp_server`).

Example:
    setsel mcp                                   # the shipped llm_head selector, tool `select`
    setsel mcp --index runs/idx --method topk --option k=3     # also `search`
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="llm_head", help="selection method (default llm_head, the shipped "
                        "trained selector)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="selector option, e.g. k=3 or model=runs/llm_head (repeatable)")
    parser.add_argument("--index", help="index folder (setsel index): adds the `search` tool")


def run(args: argparse.Namespace) -> int:
    import logging

    from setsel.config import parse_overrides
    from setsel.mcp_server import MCPConfig, build_server
    from setsel.selection import get_selector_class

    try:
        import mcp  # noqa: F401
    except ImportError:
        print("setsel mcp: error: needs the MCP SDK: pip install 'setsel[mcp]'", file=sys.stderr)
        return 2
    cfg = MCPConfig(method=args.method, options=parse_overrides(args.option), index=args.index)
    get_selector_class(cfg.method).options_cls.from_options(cfg.method, **cfg.options)  # bad options: exit 2 now
    if cfg.index is not None:
        from pathlib import Path

        if not Path(cfg.index).is_dir():
            print(f"setsel mcp: error: index folder {cfg.index} does not exist (build one with setsel index)",
                  file=sys.stderr)
            return 2
    # stdout carries the protocol: every log goes to stderr
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    build_server(cfg).run("stdio")
    return 0
