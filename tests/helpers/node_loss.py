"""Lose a Ray worker node in the middle of a setsel job (issue 22 item 6), on this one machine.

A multi-node cluster is built with :class:`ray.cluster_utils.Cluster` on 127.0.0.1: a head
with **no CPUs** (it runs the driver, GCS and the Serve proxy, never a model actor) and worker
nodes with 2 logical CPUs each, so every actor lands on a worker. Once the job is under way,
one worker that hosts an actor is killed without a graceful shutdown (``allow_graceful=False``:
its raylet, object store and workers die at once, like a lost machine). Each scenario prints
one JSON line for the test (:mod:`tests.distributed.test_node_loss`) to assert on:

- ``synthesis``: K-sample synthesis (tiny random Llama) on two ESR actors; the node goes after
  the first part file is written.
- ``index``: a sharded dense index build (the embedded MiniLM) of the pooled passages of 40
  HotpotQA-ircot dev questions, 64 per shard, on two encoder actors; the node goes after the
  first shard file is written.
- ``serve``: the selector app with two replicas (``max_replicas_per_node: 1``) on three
  workers; requests run before, during and after the loss of a replica's node.

Run: ``python tests/helpers/node_loss.py {synthesis,index,serve} OUT_DIR`` (own process: a
test session's local Ray cannot be a multi-node cluster at the same time).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from setsel.distributed.runtime import set_local_env  # noqa: E402

set_local_env()  # before anything imports ray: every node and socket on 127.0.0.1

# Fast node-death detection: the GCS health-checks each raylet every 0.5 s and declares it
# dead after 4 misses (Ray's defaults take ~30 s).
_CLUSTERS: list = []

SYSTEM_CONFIG = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                 "health_check_failure_threshold": 4}


def start_cluster(n_workers: int):
    """A head (0 CPUs) and ``n_workers`` 2-CPU worker nodes on 127.0.0.1; the driver connected."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "include_dashboard": False, "node_ip_address": "127.0.0.1",
        "_system_config": SYSTEM_CONFIG})
    workers = [cluster.add_node(num_cpus=2, node_ip_address="127.0.0.1", object_store_memory=200 * 2**20)
               for _ in range(n_workers)]
    cluster.wait_for_nodes()
    _CLUSTERS.append(cluster)
    ray.init(address=cluster.address, log_to_driver=False)
    return cluster, workers


def actor_nodes(class_part: str) -> list[str]:
    """Node ids of the ALIVE actors whose class name contains ``class_part`` (from the GCS)."""
    import ray._private.state as state

    nodes = []
    for info in state.actors().values():
        if info.get("State") in ("ALIVE", 2) and class_part in str(info.get("ActorClassName", "")):
            nodes.append(info["Address"]["NodeID"])
    return nodes


def kill_when(cluster, workers, ready, class_part: str, deadline_s: float = 300.0) -> dict:
    """Wait for ``ready()`` with actors on two distinct workers, then kill one of those workers."""
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        on = set(actor_nodes(class_part))
        hosts = [w for w in workers if w.node_id in on]
        if ready() and len(hosts) >= 2:
            victim = hosts[-1]
            cluster.remove_node(victim, allow_graceful=False)
            print(f"node_loss: killed worker {victim.node_id[:8]} after {time.monotonic() - start:.1f} s",
                  file=sys.stderr, flush=True)
            return {"killed": True, "killed_after_s": round(time.monotonic() - start, 1),
                    "actor_nodes_before": len(on), "victim": victim.node_id}
        time.sleep(0.2)
    return {"killed": False, "actor_nodes_before": len(set(actor_nodes(class_part)))}


def run_in_thread(fn):
    box: dict = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as exc:  # reported to the test, not swallowed
            box["error"] = f"{type(exc).__name__}: {exc}"

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, box


def scenario_synthesis(out: Path) -> dict:
    from helpers.models import save_tiny_llama, smol_tokenizer
    from setsel.config import build_config
    from setsel.distributed.stages import run_synthesis
    from setsel.io import iter_records
    from setsel.synthesis.job import SynthesisConfig
    from setsel.types import SampledSet

    tiny = save_tiny_llama(out / "tiny-lm", smol_tokenizer(), hidden_size=32)
    cluster, workers = start_cluster(2)
    k, n_questions = 2, 12
    settings = {
        "selector": f"hf:{tiny}", "datasets": [{"name": "demo", "limit": n_questions}],
        "engine_options": {"num_threads": 1, "dtype": "float32"},   # the same arithmetic in every process
        "esr": {"k": k, "max_words": 30, "expand_tokens": 24, "select_tokens": 16, "max_subqueries": 2},
        "batch_size": 1, "min_spread": 0.0}
    cfg = build_config(SynthesisConfig, {**settings, "out": str(out / "synth"), "ray": {
        "enabled": True, "address": cluster.address, "num_actors": 2, "num_cpus_per_actor": 0.5}})
    samples = Path(cfg.out) / "samples"
    thread, box = run_in_thread(lambda: run_synthesis(cfg, progress=False))
    kill = kill_when(cluster, workers, lambda: any(samples.glob("part-*.parquet")), "MapWorker")
    thread.join(timeout=600)

    def sets(folder: Path) -> list[tuple[str, int, tuple[str, ...]]]:
        return sorted((s.query_id, s.sample, tuple(s.refined_ids))
                      for p in sorted((folder / "samples").glob("part-*.parquet")) for s in iter_records(p, SampledSet))

    killed = sets(Path(cfg.out))
    # The same job, uninterrupted and without Ray, is the reference.
    local = build_config(SynthesisConfig, {**settings, "out": str(out / "synth_local"), "ray": {"enabled": False}})
    run_synthesis(local, progress=False)
    uninterrupted = sets(Path(local.out))
    keys = [(q, i) for q, i, _ in killed]
    summary = box.get("result") or {}
    return {**kill, "finished": not thread.is_alive(), "error": box.get("error"),
            "n_questions": n_questions, "k": k, "n_sets": len(keys), "n_unique_sets": len(set(keys)),
            "n_questions_with_sets": len({q for q, _ in keys}),
            "summary_questions": summary.get("n_questions_sampled"),
            "equals_uninterrupted": killed == uninterrupted, "n_sets_uninterrupted": len(uninterrupted),
            "train_written": (Path(cfg.out) / "train.parquet").is_file(),
            "stray_files": sorted(p.name for p in samples.iterdir() if not p.name.endswith(".parquet"))}


def scenario_index(out: Path) -> dict:
    from setsel.config import build_config
    from setsel.distributed.stages import run_index
    from setsel.retrieval.index import load_index
    from setsel.retrieval.job import IndexJobConfig

    cluster, workers = start_cluster(2)
    cfg = build_config(IndexJobConfig, {
        "dataset": "hotpotqa-ircot", "limit": 40, "out": str(out / "idx"), "retriever": "dense", "shard_size": 64,
        "progress": False, "ray": {"enabled": True, "address": cluster.address, "num_actors": 2,
                                   "num_cpus_per_actor": 0.5}})
    shards = Path(cfg.out) / "dense" / "shards"
    thread, box = run_in_thread(lambda: run_index(cfg))
    kill = kill_when(cluster, workers, lambda: shards.is_dir() and any(shards.glob("shard-*.npy")), "MapWorker")
    thread.join(timeout=600)
    manifest = box.get("result") or {}
    files = sorted(p.name for p in shards.iterdir()) if shards.is_dir() else []
    n_vectors = load_index(cfg.out).faiss_index.ntotal if manifest else None
    return {**kill, "finished": not thread.is_alive(), "error": box.get("error"),
            "count": manifest.get("count"), "n_vectors": n_vectors,
            "n_shard_files": sum(f.endswith(".npy") for f in files),
            "n_shards_planned": -(-int(manifest.get("count") or 0) // 64),
            "stray_files": [f for f in files if not (f.endswith(".npy") or f.endswith(".json"))]}


def scenario_serve(out: Path) -> dict:
    import socket

    import httpx
    from ray import serve

    from setsel.config import build_config
    from setsel.datasets.demo import load_demo
    from setsel.distributed.serve import SelectorDeployment
    from setsel.distributed.serve_schema import ServeAppConfig

    cluster, workers = start_cluster(3)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})  # + setsel's proxy
    # middleware (RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH, set by set_local_env before the cluster started)
    cfg = build_config(ServeAppConfig, {"method": "topk", "variant": None, "allowed_methods": ["topk"],
                                        "selector_options": {"k": 2}})
    app = SelectorDeployment.options(num_replicas=2, max_replicas_per_node=1, health_check_period_s=1,
                                     health_check_timeout_s=5, ray_actor_options={"num_cpus": 0.5}).bind(cfg)
    serve.run(app, name="setsel", route_prefix="/", blocking=False)
    c = load_demo()[0]
    body = {"question": c.query.question, "passages": [{"id": p.id, "title": p.title, "text": p.text}
                                                       for p in c.passages]}
    client_timeout = 10.0
    results: list[dict] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def fire():
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=client_timeout) as http:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    status = http.post("/v1/select", json=body).status_code
                except httpx.TimeoutException:
                    status = "timeout"
                except httpx.HTTPError as exc:
                    status = f"error: {type(exc).__name__}"
                results.append({"t": round(sent - t0, 2), "status": status,
                                "latency_s": round(time.monotonic() - sent, 2)})
                time.sleep(0.05)

    # Both replicas up before the load starts.
    ok_before = False
    for _ in range(600):
        try:
            ok_before = httpx.post(f"http://127.0.0.1:{port}/v1/select", json=body, timeout=client_timeout).status_code == 200
        except httpx.HTTPError:
            ok_before = False
        if ok_before and len(set(actor_nodes("Selector"))) >= 2:
            break
        time.sleep(0.5)
    threads = [threading.Thread(target=fire, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(3.0)
    kill = kill_when(cluster, workers, lambda: True, "Selector", deadline_s=60)
    killed_at = time.monotonic() - t0
    replaced_after = None
    for _ in range(240):  # Serve starts a replacement replica on the spare worker
        time.sleep(0.5)
        nodes = set(actor_nodes("Selector"))
        if len(nodes) >= 2 and kill.get("victim") not in nodes:
            replaced_after = round(time.monotonic() - t0 - killed_at, 1)
            break
    time.sleep(5.0)  # requests keep running against the replaced pair
    stop.set()
    for t in threads:
        t.join(timeout=client_timeout + 5)
    after = [r["status"] for r in results if r["t"] > killed_at + (replaced_after or 0) + 1.0]
    return {**kill, "ok_before": ok_before, "replaced_after_s": replaced_after,
            "statuses": sorted({str(r["status"]) for r in results}),
            "status_counts": {k: sum(str(r["status"]) == k for r in results) for k in {str(r["status"]) for r in results}},
            "n_requests": len(results), "max_latency_s": max((r["latency_s"] for r in results), default=None),
            "client_timeout_s": client_timeout, "n_after_replacement": len(after),
            "all_200_after_replacement": bool(after) and all(s == 200 for s in after),
            "replica_nodes_after": len(set(actor_nodes("Selector")))}


SCENARIOS = {"synthesis": scenario_synthesis, "index": scenario_index, "serve": scenario_serve}

if __name__ == "__main__":
    name, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    report = SCENARIOS[name](out)
    print("NODE_LOSS " + json.dumps(report), flush=True)
    import ray

    ray.shutdown()
    for cluster in _CLUSTERS:
        cluster.shutdown()
