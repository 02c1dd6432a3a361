"""``setsel retrieve``: top-k candidates from an index for every query → Candidates Parquet.

Queries come from ``--queries`` (JSONL/Parquet with id, question and optional answers,
gold_passage_ids, evidence; or a setsel Query/Candidates file) or, by default, from the
``queries.jsonl`` a pooled ``setsel index --dataset`` build wrote. The output is read by
``setsel select --candidates`` and ``setsel eval --dataset jsonl --data``.

Examples:
    setsel retrieve --index runs/hotpot-idx --k 20 --out runs/hotpot-cands.parquet
    setsel retrieve --index runs/wiki-idx --queries my_questions.jsonl --k 20 --out runs/cands.parquet
    setsel retrieve --config configs/retrieve.yaml --set ray.enabled=false --set k=50

The flags are shortcuts for the fields of :class:`setsel.retrieval.job.RetrieveJobConfig`;
with ``--config`` (the file ``jobs.retrieve`` reads) and ``--set key=value`` the order is
defaults < file < ``--set`` < flags.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from setsel.commands import add_config_file_arguments

    add_config_file_arguments(parser, "--set k=50 --set ray.num_actors=4", "configs/retrieve.yaml: RetrieveJobConfig")
    parser.add_argument("--index", help="index directory (setsel index; required without --config)")
    parser.add_argument("--queries", help="queries file (default: INDEX/queries.jsonl of a pooled build)")
    parser.add_argument("--k", type=int, help="candidates per query (default 20)")
    parser.add_argument("--out", help="output Candidates file (.parquet / .jsonl; required without --config)")
    parser.add_argument("--limit", type=int, help="only the first N queries")
    parser.add_argument("--batch-size", type=int, help="queries per search call (default 64)")
    parser.add_argument("--encoder-path", help="local folder holding the index's encoder model")
    parser.add_argument("--no-verify", action="store_true", help="skip the checksum check of the index files")
    parser.add_argument("--ray", action="store_true", default=None, help="fan the queries out over Ray Data actors")
    parser.add_argument("--ray-address", help="Ray cluster address (default: local on 127.0.0.1)")
    parser.add_argument("--ray-actors", type=int, help="retriever actors (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--trec-run", metavar="PATH", help="also write the retrieved pools as a TREC run (with their scores)")
    parser.add_argument("--trec-qrels", metavar="PATH", help="also write the queries' gold passages as TREC qrels")


def run(args: argparse.Namespace) -> int:
    from setsel.datasets.common import DatasetError
    from setsel.retrieval.encoders import EncoderError
    from setsel.retrieval.index import IndexLoadError
    from setsel.commands import config_from_args
    from setsel.distributed.stages import run_retrieve
    from setsel.retrieval.job import RetrieveJobConfig

    flags = {name: getattr(args, name) for name in ("index", "queries", "out", "k", "limit", "batch_size",
                                                   "encoder_path")}
    flags["verify"] = False if args.no_verify else None
    flags["progress"] = False if args.no_progress else None
    flags["ray"] = {"enabled": args.ray, "address": args.ray_address, "num_actors": args.ray_actors}
    try:
        cfg = config_from_args(RetrieveJobConfig, args, flags, required=("index", "out"))
        args.out = cfg.out  # the TREC files below read what was written
        summary = run_retrieve(cfg)
    except (DatasetError, EncoderError, IndexLoadError) as exc:
        print(f"setsel retrieve: error: {exc}", file=sys.stderr)
        return 2
    summary["wall_s"] = round(summary["wall_s"], 2)
    if args.trec_run or args.trec_qrels:
        try:
            _write_trec(args)
        except ValueError as exc:
            print(f"setsel retrieve: error: TREC files: {exc}", file=sys.stderr)
            return 2
    print(f"retrieved: {json.dumps(summary)}")
    return 0


def _write_trec(args: argparse.Namespace) -> None:
    """``--trec-run`` / ``--trec-qrels`` from the Candidates file just written."""
    from setsel.datasets.generic import load_generic
    from setsel.evaluation.trec import write_qrels, write_run

    pools = load_generic(args.out)
    if args.trec_run:
        write_run(args.trec_run, [(c.query.id, c.ids, c.scores) for c in pools], tag="setsel-retrieve")
    if args.trec_qrels:
        write_qrels(args.trec_qrels, [(c.query.id, c.query.gold_passage_ids) for c in pools])
