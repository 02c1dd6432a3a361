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
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from setsel.datasets import list_datasets
    from setsel.retrieval.encoders import ENCODERS

    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="passages file (.jsonl / .parquet: id, title, text)")
    src.add_argument("--dataset", choices=list_datasets(), help="pool this benchmark's paragraphs into the corpus")
    parser.add_argument("--data", help="--dataset: its file (default: under the data directory)")
    parser.add_argument("--qa", help="--dataset openret: the <split>_qa.jsonl")
    parser.add_argument("--limit", type=int, help="--dataset: only the first N questions' paragraphs")
    parser.add_argument("--out", required=True, help="index directory")
    parser.add_argument("--retriever", choices=["bm25", "dense", "hybrid"], default="hybrid",
                        help="bm25 (bm25s), dense (encoder + FAISS) or hybrid (both, fused by RRF); default hybrid")
    parser.add_argument("--encoder", default="minilm",
                        help=f"dense encoder: {', '.join(sorted(ENCODERS))} or a sentence-transformers folder")
    parser.add_argument("--encoder-path", help="local folder holding the --encoder model (no hub)")
    parser.add_argument("--encode-batch-size", type=int, default=64, help="texts per encoder forward (default 64)")
    parser.add_argument("--factory", default="Flat",
                        help="FAISS index: Flat (exact, default), auto, IVF<n>,Flat, IVF<n>,PQ<m>, HNSW32")
    parser.add_argument("--gpu", choices=["auto", "true", "false"], default="auto", help="FAISS on GPU (default auto)")
    parser.add_argument("--shard-size", type=int, default=4096, help="passages per embedding shard (default 4096)")
    parser.add_argument("--no-stemmer", action="store_true", help="BM25: no English stemming")
    parser.add_argument("--no-stopwords", action="store_true", help="BM25: keep English stop words")
    parser.add_argument("--overwrite", action="store_true", help="replace a different index already in --out")
    parser.add_argument("--ray", action="store_true", help="encode shards on a Ray Data actor pool")
    parser.add_argument("--ray-address", help="Ray cluster address (default: local on 127.0.0.1)")
    parser.add_argument("--ray-actors", type=int, default=1, help="encoder actors (default 1)")
    parser.add_argument("--ray-gpus", type=float, default=0.0, help="GPUs per encoder actor (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from setsel.datasets.common import DatasetError
    from setsel.retrieval.dense import DenseIndexError
    from setsel.retrieval.encoders import EncoderError
    from setsel.retrieval.index import IndexLoadError
    from setsel.retrieval.job import IndexJobConfig, RayRetrievalConfig, run_index

    bm25 = {}
    if args.no_stemmer:
        bm25["stemmer"] = None
    if args.no_stopwords:
        bm25["stopwords"] = None
    try:
        cfg = IndexJobConfig(out=args.out, corpus=args.corpus, dataset=args.dataset, data=args.data, qa=args.qa,
                             limit=args.limit, retriever=args.retriever, encoder=args.encoder,
                             encoder_path=args.encoder_path, encode_batch_size=args.encode_batch_size,
                             factory=args.factory, gpu=args.gpu, shard_size=args.shard_size, bm25=bm25,
                             overwrite=args.overwrite, progress=not args.no_progress,
                             ray=RayRetrievalConfig(enabled=args.ray, address=args.ray_address,
                                                    num_actors=args.ray_actors, num_gpus_per_actor=args.ray_gpus))
        manifest = run_index(cfg)
    except (DatasetError, EncoderError, IndexLoadError, DenseIndexError) as exc:
        print(f"setsel index: error: {exc}", file=sys.stderr)
        return 2
    summary = {k: manifest.get(k) for k in ("retriever", "count", "skipped_empty", "factory")}
    summary["encoder"] = manifest.get("encoder", {}).get("id")
    summary["wall_s"] = round(manifest["wall_s"], 2)
    print(f"indexed into {args.out}: {json.dumps(summary)}")
    return 0
