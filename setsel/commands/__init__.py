"""CLI subcommands: each module has ``add_arguments(parser)`` and ``run(args) -> int``.

Keep heavy imports (torch, ray, faiss, transformers) inside ``run``.
"""
