"""Every stage as a Ray job on a real local head node, submitted through the Job SDK.

The head node (tests/jobs/conftest.py: ``ray start --head`` on 127.0.0.1 with the job
server) receives the same entrypoints a cluster gets from
``ray job submit --working-dir . -- python -m jobs.<name> --config configs/<x>.yaml``, with
tiny settings: synthesis with a tiny random Llama on Ray Data actors, LoRA training with
DeepSpeed ZeRO-2 on 2 Ray Train workers, evaluation of top-k on the demo set, and the
selector endpoint deployed detached and blocking. Each test asserts the job's status and
what it wrote (or served).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from setsel.io import iter_records

pytestmark = pytest.mark.slow

HOTPOT_TRAIN = "hotpotqa_train100_hipporag/train.jsonl"


def _sets(out: Path):
    from setsel.types import SampledSet

    return [s for part in sorted((out / "samples").glob("part-*.parquet")) for s in iter_records(part, SampledSet)]


@pytest.mark.timeout(900)
def test_synthesize_job_on_ray_data_actors(ray_head, tiny_llm, tmp_path):
    out = tmp_path / "synth"
    cmd = ray_head.job_command(
        "synthesize", "--config", "configs/synthesize.yaml",
        "--set", f"out={out}", "--set", f"selector=hf:{tiny_llm}",
        "--set", "datasets=[{name: demo, limit: 3}]",
        "--set", "esr={k: 2, max_words: 30, expand_tokens: 16, select_tokens: 16, max_subqueries: 1}",
        "--set", "batch_size=1", "--set", "ray.num_actors=2", "--set", "min_spread=0.0",
        "--set", "engine_options={batch_size: 4}",
    )
    result = ray_head.submit_job(cmd, timeout=600)
    print(f"synthesize job: {result.status} in {result.wall_s}s")
    assert result.status == "SUCCEEDED", result.logs[-4000:]
    sets = _sets(out)
    keys = [(s.query_id, s.sample) for s in sets]
    assert len(keys) == len(set(keys)) == 3 * 2, "K=2 sets for each of 3 questions, none twice"
    assert all(s.refined_ids and set(s.refined_ids) <= set(s.raw_ids) for s in sets)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["n_questions_sampled"] == 3 and meta["K"] == 2
    assert meta["config"]["selector"] == f"hf:{tiny_llm}", "the --set overrides reached the job"
    assert (out / "train.parquet").is_file() and meta["n_examples"] > 0
    assert '"n_questions_sampled": 3' in result.logs, "the job printed its summary"


@pytest.mark.timeout(900)
def test_train_job_deepspeed_zero2_two_workers(ray_head, tiny_llm, data_dir, tmp_path):
    out = tmp_path / "train"
    cmd = ray_head.job_command(
        "train", "--config", "configs/train_tiny_cpu.yaml",
        "--set", f"model={tiny_llm}", "--set", f"output_dir={out}", "--set", f"data.train={out}/gold.jsonl",
        "--set", "lora.r=4", "--set", "lora.alpha=8", "--set", "optim.max_steps=null",
        "--gold-from", str(data_dir / HOTPOT_TRAIN), "--gold-n", "8",
    )
    result = ray_head.submit_job(cmd, timeout=800)
    print(f"train job: {result.status} in {result.wall_s}s")
    assert result.status == "SUCCEEDED", result.logs[-4000:]
    summary = json.loads((out / "train_summary.json").read_text())
    # 8 examples / (2 workers × batch 1 × grad_accum 2) = 2 optimizer steps
    assert summary["finished"] and summary["step"] == summary["total_steps"] == 2
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines() if r.strip()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["loss"] > 0 for r in rows)
    adapter = Path(summary["adapter"])
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0
    ckpt = Path(summary["checkpoint"])
    assert len(list((ckpt / "deepspeed" / "state").glob("zero_pp_rank_*_optim_states.pt"))) == 2, "one ZeRO shard per rank"


@pytest.mark.timeout(600)
def test_evaluate_job_topk_on_the_demo_set(ray_head, tmp_path):
    out = tmp_path / "eval"
    cmd = ray_head.job_command("evaluate", "--config", "configs/eval.yaml", "--set", "dataset=demo", "--set", "method=topk",
                      "--set", "k=3", "--set", f"out={out}", "--set", "progress=false")
    result = ray_head.submit_job(cmd, timeout=500)
    print(f"evaluate job: {result.status} in {result.wall_s}s")
    assert result.status == "SUCCEEDED", result.logs[-4000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"].startswith("topk") and metrics["dataset"] == "demo" and metrics["n_queries"] == 12
    assert metrics["avg_selected"] == 3 and metrics["k"] == 3
    import pyarrow.parquet as pq

    assert pq.read_table(out / "per_query.parquet").num_rows == 12
    assert (out / "report.md").read_text().strip()


def _demo_request(n: int = 6) -> dict:
    from setsel.datasets.demo import load_demo

    c = load_demo()[0]
    return {"question": c.query.question,
            "passages": [{"id": p.id, "title": p.title, "text": p.text} for p in c.passages[:n]]}, [p.id for p in c.passages[:n]]


def _apps(ray_head) -> dict:
    status, body = ray_head.http_json(f"{ray_head.dashboard_url}/api/serve/applications/")
    assert status == 200, body
    return body.get("applications") or {}


def _wait(pred, timeout: float, every: float = 1.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(every)
    return pred()


@pytest.fixture(scope="module")
def serve_port(ray_head):
    return ray_head.free_port()


@pytest.mark.timeout(600)
def test_serve_job_detached_keeps_serving_after_the_job_ends(ray_head, serve_port):
    cmd = ray_head.job_command("serve", "--config", "configs/serve.yaml", "--set", "method=topk",
                      "--set", "allowed_methods=[topk]", "--set", "model=hf:none-needed-for-topk",
                      "--port", str(serve_port), "--detach")
    result = ray_head.submit_job(cmd, timeout=400)
    print(f"serve --detach job: {result.status} in {result.wall_s}s")
    assert result.status == "SUCCEEDED", result.logs[-4000:]
    assert "RUNNING at http://127.0.0.1:" in result.logs
    base = f"http://127.0.0.1:{serve_port}"
    try:
        assert _wait(lambda: ray_head.http_get(f"{base}/healthz", timeout=5)[0] == 200, 60), "the app outlives its job"
        status, models = ray_head.http_json(f"{base}/v1/models")
        assert status == 200 and models["methods"] == ["topk"] and models["model"] == "hf:none-needed-for-topk"
        body, ids = _demo_request(6)
        status, resp = ray_head.http_json(f"{base}/v1/select", {**body, "max_passages": 2})
        assert status == 200, resp
        assert resp["selected"] == ids[:2] and resp["method"] == "topk"
        assert _apps(ray_head)["setsel"]["status"] == "RUNNING"
    finally:
        ray_head.http_json(f"{ray_head.dashboard_url}/api/serve/applications/", method="DELETE")  # `serve shutdown`
    assert _wait(lambda: not _apps(ray_head), 120), "serve shutdown removed the app"


@pytest.mark.timeout(600)
def test_serve_job_blocking_serves_until_the_job_is_stopped(ray_head, serve_port):
    cmd = ray_head.job_command("serve", "--config", "configs/serve.yaml", "--set", "method=topk",
                      "--set", "allowed_methods=[topk]", "--port", str(serve_port))
    job_id = ray_head.submit(cmd)
    base = f"http://127.0.0.1:{serve_port}"
    try:
        # Ready when the job says so (it prints after the deploy returned and its SIGTERM handler is in place).
        up = _wait(lambda: ray_head.wait(job_id, 0) not in ("PENDING", "RUNNING")
                   or "RUNNING at" in ray_head.client.get_job_logs(job_id), 300, every=2)
        status = ray_head.wait(job_id, 0)
        assert up and status == "RUNNING", f"{status}: {ray_head.client.get_job_logs(job_id)[-4000:]}"
        assert _healthy(ray_head, base)
        body, ids = _demo_request(4)
        code, resp = ray_head.http_json(f"{base}/v1/select", {**body, "max_passages": 3})
        assert code == 200 and resp["selected"] == ids[:3]
        assert ray_head.wait(job_id, 0) == "RUNNING", "the job stays up while the app serves"
    finally:
        ray_head.client.stop_job(job_id)
    assert ray_head.wait(job_id, 60) == "STOPPED"
    logs = ray_head.client.get_job_logs(job_id)
    assert "SIGTERM received; deleting app 'setsel'" in logs, logs[-3000:]
    assert _wait(lambda: "setsel" not in _apps(ray_head), 120), "stopping the job deleted the app"


def _healthy(ray_head, base: str) -> bool:
    try:
        return ray_head.http_get(f"{base}/healthz", timeout=3)[0] == 200
    except OSError:
        return False


# --- index and retrieve: one index build on the demo set, shared by the tests below ---

@pytest.fixture(scope="module")
def demo_index(ray_head, tmp_path_factory):
    """``jobs.index`` (hybrid, 3 shards of ≤16 passages, 2 encoder actors) on the demo set: (out, result)."""
    out = tmp_path_factory.mktemp("index-job") / "idx"
    cmd = ray_head.job_command("index", "--config", "configs/index.yaml", "--set", "dataset=demo",
                               "--set", f"out={out}", "--set", "retriever=hybrid", "--set", "shard_size=16",
                               "--set", "ray.num_actors=2")
    result = ray_head.submit_job(cmd, timeout=600)
    print(f"index job: {result.status} in {result.wall_s}s")
    return out, result


@pytest.mark.timeout(900)
def test_index_job_builds_a_sharded_hybrid_index(demo_index):
    import re

    out, result = demo_index
    assert result.status == "SUCCEEDED", result.logs[-4000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 41 and manifest["retriever"] == "hybrid"
    shards = sorted(p.name for p in (out / "dense" / "shards").iterdir() if re.fullmatch(r"shard-\d{5}\.npy", p.name))
    assert shards == ["shard-00000.npy", "shard-00001.npy", "shard-00002.npy"], "41 passages / shard_size 16"
    lines = [x for x in (out / "queries.jsonl").read_text().splitlines() if x.strip()]
    assert len(lines) == 12
    assert "indexed into" in result.logs, "the job printed its summary"


@pytest.mark.timeout(900)
def test_retrieve_job_writes_candidates_for_every_query(ray_head, demo_index, tmp_path):
    from setsel.io import read_candidates

    index, built = demo_index
    assert built.status == "SUCCEEDED", built.logs[-4000:]
    out = tmp_path / "cands.parquet"
    cmd = ray_head.job_command("retrieve", "--config", "configs/retrieve.yaml", "--set", f"index={index}",
                               "--set", f"out={out}", "--set", "k=5", "--set", "ray.num_actors=2")
    result = ray_head.submit_job(cmd, timeout=500)
    print(f"retrieve job: {result.status} in {result.wall_s}s")
    assert result.status == "SUCCEEDED", result.logs[-4000:]
    queries = [json.loads(x) for x in (index / "queries.jsonl").read_text().splitlines() if x.strip()]
    cands = read_candidates(out)
    assert len(cands) == 12 and all(1 <= len(c.passages) <= 5 for c in cands)
    assert [c.query.id for c in cands] == [q["id"] for q in queries], "one Candidates per query, in order"
    hits = sum(bool(set(q["gold_passage_ids"]) & set(c.ids)) for q, c in zip(queries, cands))
    assert hits >= len(cands) / 2, f"only {hits}/12 questions have a gold passage in their top 5"


@pytest.mark.timeout(600)
def test_index_job_with_a_missing_corpus_fails_with_exit_code_2(ray_head, tmp_path):
    cmd = ray_head.job_command("index", "--config", "configs/index.yaml", "--set", f"corpus={tmp_path}/missing.jsonl",
                               "--set", "dataset=null", "--set", f"out={tmp_path}/idx")
    result = ray_head.submit_job(cmd, timeout=400)
    print(f"index job (missing corpus): {result.status} in {result.wall_s}s")
    assert result.status == "FAILED", result.logs[-4000:]
    assert ray_head.client.get_job_info(result.job_id).driver_exit_code == 2
    assert "no such corpus file" in result.logs, result.logs[-4000:]
