"""The synthesis job end to end with a tiny random model: sampling, build, resume, Ray."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from setsel.config import ConfigError
from setsel.io import iter_records, read_records
from setsel.synthesis.job import SynthesisConfig, finished_ids, run
from setsel.types import SampledSet

pytestmark = [pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp_path, tiny_lm, **kw):
    from setsel.config import build_config

    data = {"out": str(tmp_path / "synth"), "selector": f"hf:{tiny_lm}", "datasets": [{"name": "demo", "limit": 4}],
            "esr": {"k": 3, "max_words": 30, "expand_tokens": 24, "select_tokens": 16, "max_subqueries": 2},
            "batch_size": 3, "ray": {"enabled": False}, "min_spread": 0.0}
    data.update(kw)
    return build_config(SynthesisConfig, data)


def _all_sets(out):
    rows = []
    for part in sorted((Path(out) / "samples").glob("part-*.parquet")):
        rows.extend(iter_records(part, SampledSet))
    return rows


@pytest.mark.timeout(600)
def test_local_run_builds_training_data(tmp_path, tiny_lm):
    from setsel.datasets.demo import load_demo
    from setsel.training.data import read_examples

    cfg = _cfg(tmp_path, tiny_lm)
    summary = run(cfg, progress=False)
    sets = _all_sets(cfg.out)
    demo = {c.query.id: c for c in load_demo()}
    assert summary["n_questions_sampled"] == 4 and len(sets) == 4 * 3
    for s in sets:
        pool = set(demo[s.query_id].ids)
        assert s.refined_ids and set(s.refined_ids) <= set(s.raw_ids) <= pool
        assert s.H > 0 and abs(s.dH) < 50
    assert 0.01 <= summary["alpha"] <= 10 and 0.01 <= summary["beta"] <= 10
    examples = read_examples(Path(cfg.out) / "train.parquet")
    assert len(examples) == summary["n_kept"] * 3 and summary["n_examples"] == len(examples)
    for ex in examples[:6]:
        src = demo[ex.metadata["source_query_id"]]
        assert sorted(p.id for p in ex.passages) == sorted(src.ids)
        assert ex.P == sorted(ex.P, reverse=True)[:1] + ex.P[1:] and max(ex.P) == ex.P[0]
    assert (Path(cfg.out) / "p_hist.png").stat().st_size > 1000
    meta = json.loads((Path(cfg.out) / "metadata.json").read_text())
    assert "optiset_select@2" in meta["prompt_versions"] and meta["K"] == 3


@pytest.mark.timeout(900)
def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path, tiny_lm):
    cfg_path = tmp_path / "synth.yaml"
    out = tmp_path / "synth"
    cfg_path.write_text(
        f"out: {out}\nselector: hf:{tiny_lm}\ndatasets: [{{name: demo, limit: 6}}]\nray: {{enabled: false}}\nbatch_size: 2\n"
        "min_spread: 0.0\nesr: {k: 2, max_words: 30, expand_tokens: 24, select_tokens: 16, max_subqueries: 2}\n"
    )
    cmd = [sys.executable, "-m", "jobs.synthesize", "--config", str(cfg_path)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and len(list((out / "samples").glob("part-*.parquet"))) < 1:
        time.sleep(0.5)
        assert proc.poll() is None, "the job ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    parts_before = {p.name: p.stat().st_mtime_ns for p in (out / "samples").glob("part-*.parquet")}
    done_before = finished_ids(out)
    assert 0 < len(done_before) < 6, "kill landed mid-run"
    again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    # the JSON summary, then the line naming the training file
    summary, _ = json.JSONDecoder().raw_decode(again.stdout[again.stdout.index("{"):])
    assert "train.parquet" in again.stdout
    assert summary["resumed_skipped"] == len(done_before)
    sets = _all_sets(out)
    keys = [(s.query_id, s.sample) for s in sets]
    assert len(keys) == len(set(keys)) == 6 * 2  # nothing lost, nothing duplicated
    for name, mtime in parts_before.items():  # finished batches were not redone
        assert (out / "samples" / name).stat().st_mtime_ns == mtime


@pytest.mark.timeout(900)
def test_ray_data_actors(tmp_path, tiny_lm, ray_local):
    from setsel.distributed.stages import run_synthesis

    cfg = _cfg(tmp_path, tiny_lm, ray={"enabled": True, "num_actors": 2}, batch_size=1,
               esr={"k": 2, "max_words": 30, "expand_tokens": 16, "select_tokens": 16, "max_subqueries": 1})
    with pytest.raises(ConfigError, match="setsel.distributed.stages.run_synthesis"):
        run(cfg, progress=False)  # the domain function never picks Ray itself
    summary = run_synthesis(cfg, progress=False)
    assert summary["n_questions_sampled"] == 4
    keys = [(s.query_id, s.sample) for s in _all_sets(cfg.out)]
    assert len(keys) == len(set(keys)) == 8
    assert read_records(Path(cfg.out) / "train.parquet", __import__("setsel.types", fromlist=["TrainExample"]).TrainExample)
