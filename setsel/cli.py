"""The ``setsel`` command line.

Subcommands are registered in :data:`COMMANDS` by module path and imported only when
called, so ``setsel --help`` stays light (no torch/ray/vllm/faiss). Each module in
``setsel/commands/`` defines ``add_arguments(parser)`` and ``run(args) -> int`` and keeps
heavy imports inside ``run``.

Exit codes: 0 success; 1 the job failed; 2 bad usage, config or input; 130 interrupted.

An expected failure — a model engine that fails or stays unreachable (``EngineError``), a
prompt over the context (``ContextLengthError``, exit 2), a bad dataset, config or selector
option — prints one line ``setsel CMD: error: ...`` and no traceback; ``--debug`` (anywhere
on the command line) or ``SETSEL_DEBUG=1`` re-raises it with the traceback.

Terminal output: the long commands (demo, serve, train, train-head, synthesize) log the
libraries and Ray to a file in their run folder and name it at the end (:mod:`setsel.logs`);
``--verbose`` (anywhere on the command line) or ``SETSEL_VERBOSE=1`` keeps it all on the terminal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help). Add a line here to register a subcommand.
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("setsel.commands.version", "print the setsel version"),
    "index": ("setsel.commands.index", "build a BM25 / dense (FAISS) / hybrid index of a corpus or a pooled benchmark"),
    "retrieve": ("setsel.commands.retrieve", "retrieve top-k candidates for queries from an index (Candidates Parquet)"),
    "demo": ("setsel.commands.demo", "run the end-to-end demo on the embedded demo set"),
    "synthesize": ("setsel.commands.synthesize", "synthesise selector training data (OptiSet / SetR teacher)"),
    "serve": ("setsel.commands.serve", "deploy the selector HTTP endpoint on Ray Serve"),
    "mcp": ("setsel.commands.mcp_server", "serve selection (and search) as MCP tools over stdio"),
    "select": ("setsel.commands.select", "run a selection method over a candidates file (Selection Parquet)"),
    "eval": ("setsel.commands.eval", "evaluate a selection method on a benchmark (metrics, report, plots)"),
    "train": ("setsel.commands.train", "train the selector (LoRA; sft | dpo | setlist) with Ray Train"),
    "train-head": ("setsel.commands.train_head",
                   "train the llm_head selector (SmolLM2 + LoRA + per-passage head on gold-labelled pools)"),
    "train-cross-encoder": ("setsel.commands.train_cross_encoder",
                            "train the cross-encoder baseline selector (MiniLM, threshold tuned for set F1)"),
}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _top_parser() -> argparse.ArgumentParser:
    from setsel import __version__

    parser = argparse.ArgumentParser(
        prog="setsel",
        description="Set-wise passage selection for RAG: SetR, OptiSet and baselines, "
        "from a laptop to a Ray cluster.",
        epilog="Run 'setsel COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"setsel {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of expected errors (anywhere on the line)")
    parser.add_argument("--verbose", action="store_true",
                        help="keep library and Ray logs on the terminal (default: a log file in the run folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("SETSEL_DEBUG", "") not in ("", "0")
    if "--verbose" in argv:
        os.environ["SETSEL_VERBOSE"] = "1"
    argv = [a for a in argv if a not in ("--debug", "--verbose")]
    if not argv or argv[0] not in COMMANDS:
        parser = _top_parser()
        if not argv:
            parser.print_help()
            return EXIT_USAGE
        parser.parse_args(argv)  # prints help/version or a usage error and exits
        return EXIT_USAGE
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"setsel {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    from setsel.config import ConfigError
    from setsel.engines.base import ContextLengthError, EngineError
    from setsel.selection.base import SelectorError
    from setsel.types import SchemaError

    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ConfigError, SchemaError, SelectorError, ContextLengthError, FileNotFoundError) as exc:
        if debug:
            raise
        print(f"setsel {name}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        if debug:
            raise
        print(f"setsel {name}: error: {_one_line(exc)} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line (its type when the message is empty)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
