"""`setsel index` / `setsel retrieve` end to end, exit codes, and resuming a killed dense build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from setsel.cli import main


def test_index_retrieve_eval_on_the_pooled_demo(tmp_path, capsys):
    idx, cands = tmp_path / "idx", tmp_path / "cands.parquet"
    assert main(["index", "--dataset", "demo", "--out", str(idx), "--retriever", "bm25", "--no-progress"]) == 0
    assert "indexed into" in capsys.readouterr().out
    assert (idx / "queries.jsonl").exists()
    assert main(["retrieve", "--index", str(idx), "--k", "8", "--out", str(cands), "--no-progress",
                 "--trec-run", str(tmp_path / "run.trec"), "--trec-qrels", str(tmp_path / "qrels.trec")]) == 0
    from setsel.evaluation.trec import read_run
    from setsel.io import read_candidates

    got = read_candidates(cands)
    assert read_run(tmp_path / "run.trec") == {c.query.id: c.ids for c in got}  # retriever scores keep the order
    qrels = [line.split() for line in (tmp_path / "qrels.trec").read_text().splitlines()]
    assert {(q, d) for q, _, d, rel in qrels} == {(c.query.id, g) for c in got for g in c.query.gold_passage_ids}
    assert len(got) == 12 and all(len(c.passages) <= 8 and c.retriever == "bm25" for c in got)
    assert all(c.query.gold_passage_ids for c in got)
    assert main(["eval", "--dataset", "jsonl", "--data", str(cands), "--method", "topk", "--k", "5",
                 "--out", str(tmp_path / "eval"), "--no-progress"]) == 0
    import json

    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n_queries"] == 12 and metrics["set_recall"] > 0.4


def test_exit_codes_on_bad_input(tmp_path, capsys):
    assert main(["index", "--corpus", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "i")]) == 2
    assert "no such corpus file" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "text": "x"}\n{oops\n')
    assert main(["index", "--corpus", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "i"),
                 "--retriever", "bm25"]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["retrieve", "--index", str(tmp_path / "nope"), "--out", str(tmp_path / "c.parquet")]) == 2
    assert "no such index directory" in capsys.readouterr().err
    assert main(["index", "--out", str(tmp_path / "i")]) == 2   # neither --corpus nor --dataset
    assert "give exactly one of corpus" in capsys.readouterr().err
    assert main(["retrieve", "--out", str(tmp_path / "c.parquet")]) == 2
    assert "required without --config: --index" in capsys.readouterr().err


def test_index_and_retrieve_read_the_jobs_config_files(tmp_path):
    """The CLI reads the same files as jobs.index / jobs.retrieve: file < --set < flags."""
    import argparse

    from setsel.commands import config_from_args, index, retrieve
    from setsel.retrieval.job import IndexJobConfig, RetrieveJobConfig

    repo = Path(__file__).resolve().parents[2]
    p = argparse.ArgumentParser()
    index.add_arguments(p)
    args = p.parse_args(["--config", str(repo / "configs" / "index.yaml"), "--set", "ray.enabled=false",
                         "--set", "shard_size=128", "--shard-size", "256", "--out", str(tmp_path / "i")])
    cfg = config_from_args(IndexJobConfig, args, {"shard_size": args.shard_size, "out": args.out, "ray": {}})
    assert (cfg.shard_size, cfg.out, cfg.ray.enabled) == (256, str(tmp_path / "i"), False)
    p = argparse.ArgumentParser()
    retrieve.add_arguments(p)
    args = p.parse_args(["--config", str(repo / "configs" / "retrieve.yaml"), "--set", "k=50"])
    cfg = config_from_args(RetrieveJobConfig, args, {"k": args.k})
    assert cfg.k == 50 and cfg.ray.enabled  # the job file turns Ray on; --set ray.enabled=false turns it off


@pytest.mark.slow
def test_killed_dense_build_resumes_without_redoing_shards(tmp_path, data_dir):
    """SIGKILL `setsel index` after a few shards; the rerun keeps them and finishes the rest."""
    from setsel.retrieval.corpus import pool_candidates, write_passages
    from setsel.datasets import load_dataset

    write_passages(pool_candidates(load_dataset("hotpotqa-ircot", limit=40)).passages, tmp_path / "corpus.parquet")
    out = tmp_path / "idx"
    shard_dir = out / "dense" / "shards"
    cmd = [sys.executable, "-m", "setsel.cli", "index", "--corpus", str(tmp_path / "corpus.parquet"), "--out",
           str(out), "--retriever", "dense", "--shard-size", "16", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(shard_dir.glob("shard-*.npy"))) < 3 and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in shard_dir.glob("shard-*.npy")}
    assert len(before) >= 3, "the build did not get far enough to be killed mid-way"
    assert not (out / "manifest.json").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = {p.name: p.stat().st_mtime_ns for p in shard_dir.glob("shard-*.npy")}
    assert all(after[name] == mtime for name, mtime in before.items())     # finished shards untouched
    from setsel.retrieval.corpus import count_rows
    from setsel.retrieval.index import load_index

    n = count_rows(out / "passages.parquet")
    assert len(after) == -(-n // 16) and not list(shard_dir.glob("*.tmp*"))
    index = load_index(out)
    assert index.faiss_index.ntotal == n
    # each row's vector is that passage's embedding: nothing lost, nothing shifted
    vecs = index.faiss_index.reconstruct_n(0, n)
    rows = [0, n // 2, n - 1]
    ps = index.passages(rows)
    expect = index.encoder.encode([f"{p.title}: {p.text}" if p.title else p.text for p in ps], kind="passage")
    np.testing.assert_allclose(vecs[rows], expect, atol=1e-4)
