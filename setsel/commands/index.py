"""``setsel index``: build a BM25, dense (FAISS) or hybrid index of a corpus.

The corpus is a passages file (``--corpus``, JSONL/Parquet with id, title, text) or a
benchmark whose candidate paragraphs are pooled into a de-duplicated corpus
(``--dataset``; the queries with their gold labels are written to ``OUT/queries.jsonl`` for
``setsel retrieve``). A killed build rerun with the same arguments resumes (finished
embedding shards are kept). ``--ray`` encodes the shards on a Ray Data actor pool.

Examples:
    setsel index --corpus wiki.parquet --out runs/wiki-idx --retriever hybrid
    setsel index --dataset hotpotqa-ircot --out runs/hotpot-idx --retriever dense --encoder minilm
    setsel index --corpus big.parquet --out idx --retriever dense --factory IVF4096,Flat --ray --ray-actors 8 --ray-gpus 1
    setsel index --config configs/index.yaml --set ray.enabled=false --out runs/idx

The flags are shortcuts for the fields of :class:`setsel.retrieval.job.IndexJobConfig`; with
``--config`` (the file ``jobs.index`` reads) and ``--set key=value`` the order is
defaults < file < ``--set`` < flags.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from setsel.datasets import list_datasets
    from setsel.retrieval.encoders import ENCODERS

    from setsel.commands import add_config_file_arguments

    add_config_file_arguments(parser, "--set retriever=bm25 --set ray.num_actors=4", "configs/index.yaml: IndexJobConfig")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--corpus", help="passages file (.jsonl / .parquet: id, title, text)")
    src.add_argument("--dataset", choices=list_datasets(), help="pool this benchmark's paragraphs into the corpus")
    parser.add_argument("--data", help="--dataset: its file (default: under the data directory)")
    parser.add_argument("--qa", help="--dataset openret: the <split>_qa.jsonl")
    parser.add_argument("--limit", type=int, help="--dataset: only the first N questions' paragraphs")
    parser.add_argument("--out", help="index directory (required without --config)")
    parser.add_argument("--retriever", choices=["bm25", "dense", "hybrid"],
                        help="bm25 (bm25s), dense (encoder + FAISS) or hybrid (both, fused by RRF); default hybrid")
    parser.add_argument("--encoder",
                        help=f"dense encoder: {', '.join(sorted(ENCODERS))} or a sentence-transformers folder")
    parser.add_argument("--encoder-path", help="local folder holding the --encoder model (no hub)")
    parser.add_argument("--encode-batch-size", type=int, help="texts per encoder forward (default 64)")
    parser.add_argument("--factory",
                        help="FAISS index: Flat (exact, default), auto, IVF<n>,Flat, IVF<n>,PQ<m>, HNSW32")
    parser.add_argument("--gpu", choices=["auto", "true", "false"], help="FAISS on GPU (default auto)")
    parser.add_argument("--shard-size", type=int, help="passages per embedding shard (default 4096)")
    parser.add_argument("--no-stemmer", action="store_true", help="BM25: no English stemming")
    parser.add_argument("--no-stopwords", action="store_true", help="BM25: keep English stop words")
    parser.add_argument("--overwrite", action="store_true", default=None, help="replace a different index already in --out")
    parser.add_argument("--ray", action="store_true", default=None, help="encode shards on a Ray Data actor pool")
    parser.add_argument("--ray-address", help="Ray cluster address (default: local on 127.0.0.1)")
    parser.add_argument("--ray-actors", type=int, help="encoder actors (default 1)")
    parser.add_argument("--ray-gpus", type=float, help="GPUs per encoder actor (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from setsel.datasets.common import DatasetError
    from setsel.retrieval.dense import DenseIndexError
    from setsel.retrieval.encoders import EncoderError
    from setsel.retrieval.index import IndexLoadError
    from setsel.commands import config_from_args
    from setsel.distributed.stages import run_index
    from setsel.retrieval.job import IndexJobConfig

    flags = {name: getattr(args, name) for name in ("out", "corpus", "dataset", "data", "qa", "limit", "retriever",
                                                   "encoder", "encoder_path", "encode_batch_size", "factory", "gpu",
                                                   "shard_size", "overwrite")}
    flags["progress"] = False if args.no_progress else None
    flags["ray"] = {"enabled": args.ray, "address": args.ray_address, "num_actors": args.ray_actors,
                    "num_gpus_per_actor": args.ray_gpus}
    try:
        cfg = config_from_args(IndexJobConfig, args, flags, required=("out",))
        if args.no_stemmer or args.no_stopwords:  # "no stemmer" = a None value, so set after the merge
            bm25 = dict(cfg.bm25)
            if args.no_stemmer:
                bm25["stemmer"] = None
            if args.no_stopwords:
                bm25["stopwords"] = None
            from dataclasses import replace

            cfg = replace(cfg, bm25=bm25)
        manifest = run_index(cfg)
    except (DatasetError, EncoderError, IndexLoadError, DenseIndexError) as exc:
        print(f"setsel index: error: {exc}", file=sys.stderr)
        return 2
    summary = {k: manifest.get(k) for k in ("retriever", "count", "skipped_empty", "factory")}
    summary["encoder"] = manifest.get("encoder", {}).get("id")
    summary["wall_s"] = round(manifest["wall_s"], 2)
    print(f"indexed into {args.out}: {json.dumps(summary)}")
    return 0
