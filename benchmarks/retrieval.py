"""Retrieval benchmark: index build speed, query latency, and retrieval quality; prints JSON.

Speed: the candidate paragraphs of every dev benchmark with real pools (HotpotQA-ircot,
HotpotQA, MuSiQue, 2Wiki, and the BGE-retrieved openret pools) pooled into one
de-duplicated corpus (~10k passages): BM25 and dense (embedded MiniLM + FAISS Flat) build
throughput in passages/s, and single-query latency p50/p99 for BM25, dense and hybrid.

Quality: recall@5/10/20 (share of a question's gold passages retrieved) and MRR@10 of
BM25, dense and hybrid (RRF) on the pooled HotpotQA-ircot and MuSiQue dev corpora, each
question searching its benchmark's whole pooled corpus (not its own 10–20 paragraphs).
With the ``trec`` extra installed, the same rankings also go through TREC run/qrels files
and ir-measures (trec_eval's code): ``ir_measures.RR@10`` / ``nDCG@10`` / ``R@20``.

Usage:
    python benchmarks/retrieval.py [--out runs/bench/retrieval.json] [--latency-queries 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

SPEED_SETS = [("hotpotqa-ircot", None), ("hotpotqa", None), ("musique", None), ("2wiki", None),
              ("openret", "openret_bge/hotpotqa"), ("openret", "openret_bge/musique"), ("openret", "openret_bge/2wiki")]
QUALITY_SETS = ["hotpotqa-ircot", "musique"]


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _latency(index, questions: list[str], retriever: str) -> dict[str, float]:
    times = []
    for q in questions:
        t = time.perf_counter()
        index.search_rows([q], 20, retriever=retriever)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(_pct(times, 50), 2), "p99_ms": round(_pct(times, 99), 2), "queries": len(times)}


def _quality(index, queries, retriever: str) -> dict[str, float]:
    from setsel.evaluation.metrics import mrr_at_k

    labelled = [q for q in queries if q.gold_passage_ids]
    hits = index.search_rows([q.question for q in labelled], 20, retriever=retriever)
    out: dict[str, float] = {}
    ids = [[index.table.column("id")[r].as_py() for r in rows] for rows, _ in hits]
    for k in (5, 10, 20):
        out[f"recall@{k}"] = round(sum(len(set(r[:k]) & set(q.gold_passage_ids)) / len(q.gold_passage_ids)
                                       for r, q in zip(ids, labelled)) / len(labelled), 4)
    out["mrr@10"] = round(sum(mrr_at_k(r, set(q.gold_passage_ids), 10) for r, q in zip(ids, labelled))
                          / len(labelled), 4)
    out["queries"] = len(labelled)
    out.update(_ir_measures(labelled, ids, [list(scores) for _, scores in hits]))
    return out


def _ir_measures(labelled, ids, scores) -> dict:
    """The same ranking through TREC files and ir-measures (trec_eval's code): ``ir_measures.*``
    keys, mean over the labelled queries (a query with no gold retrieved counts 0). Skipped
    without the ``trec`` extra."""
    try:
        import ir_measures
    except ImportError:
        return {}
    from setsel.evaluation.trec import write_qrels, write_run

    with tempfile.TemporaryDirectory() as tmp:
        write_run(Path(tmp) / "run", [(q.id, r, s) for q, r, s in zip(labelled, ids, scores)], tag="bench")
        write_qrels(Path(tmp) / "qrels", [(q.id, q.gold_passage_ids) for q in labelled])
        measures = [ir_measures.RR @ 10, ir_measures.nDCG @ 10, ir_measures.R @ 20]
        qrels = list(ir_measures.read_trec_qrels(str(Path(tmp) / "qrels")))
        sums = dict.fromkeys(map(str, measures), 0.0)
        for m in ir_measures.iter_calc(measures, qrels, list(ir_measures.read_trec_run(str(Path(tmp) / "run")))):
            sums[str(m.measure)] += m.value
    return {f"ir_measures.{k}": round(v / len(labelled), 4) for k, v in sums.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--latency-queries", type=int, default=200, help="single queries timed per retriever")
    parser.add_argument("--work", help="folder for the indexes (default: a temporary one)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core); "
                        "1 is much faster when other jobs share the cores (no spin-waiting threads)")
    parser.add_argument("--skip-quality", action="store_true", help="speed only")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from setsel.datasets import load_dataset
    from setsel.retrieval.corpus import pool_candidates, write_passages
    from setsel.retrieval.index import build_index, load_index

    work = Path(args.work or tempfile.mkdtemp(prefix="setsel-bench-retrieval-"))
    result: dict = {"benchmark": "retrieval", "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                          "torch_threads": torch.get_num_threads(),
                                                          "load_avg_at_start": os.getloadavg()[0]},
                    "encoder": "minilm (all-MiniLM-L6-v2)", "factory": "Flat"}

    # ---- speed on the ~10k pooled corpus
    cands = []
    for name, path in SPEED_SETS:
        cands += load_dataset(name, path)
    pooled = pool_candidates(cands)
    write_passages(pooled.passages, work / "speed_corpus.parquet")
    n = len(pooled.passages)
    speed: dict = {"passages": n, "sets": [p or n_ for n_, p in SPEED_SETS]}
    for retriever in ("bm25", "dense"):
        t = time.perf_counter()
        m = build_index(work / "speed_corpus.parquet", work / f"speed_{retriever}", retriever=retriever,
                        progress=False, overwrite=True)
        wall = time.perf_counter() - t
        speed[f"{retriever}_build"] = {"wall_s": round(wall, 2), "passages_per_s": round(n / wall, 1),
                                       "timings": {k: round(v, 2) for k, v in m["timings"].items()}}
    # hybrid latency: the dense index with the BM25 part attached (RRF), without embedding twice
    index = load_index(work / "speed_dense")
    index.bm25, index.retriever = load_index(work / "speed_bm25").bm25, "hybrid"
    questions = [q.question for q in pooled.queries][: args.latency_queries]
    speed["latency"] = {r: _latency(index, questions, r) for r in ("bm25", "dense", "hybrid")}
    result["speed"] = speed

    # ---- quality on the pooled HotpotQA-ircot and MuSiQue dev corpora
    quality = {}
    for name in [] if args.skip_quality else QUALITY_SETS:
        p = pool_candidates(load_dataset(name))
        write_passages(p.passages, work / f"{name}.parquet")
        build_index(work / f"{name}.parquet", work / f"q_{name}", retriever="hybrid", progress=False, overwrite=True)
        idx = load_index(work / f"q_{name}")
        quality[name] = {"passages": len(p.passages),
                         **{r: _quality(idx, p.queries, r) for r in ("bm25", "dense", "hybrid")}}
    if quality:
        result["quality"] = quality
    result["machine"]["load_avg_at_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
