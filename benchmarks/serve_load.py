"""Load test of the selector endpoint on 127.0.0.1: latency percentiles and throughput.

For batching on (``max_batch_size`` from ``--batch-size``) and off (1), deploys the app
on a local Ray Serve, then for each concurrency level sends ``--requests`` requests
built from the embedded demo set (bounded by ``--max-seconds`` per level) and records
p50/p95/p99 latency and requests/s. Loopback only. Prints JSON.

    python benchmarks/serve_load.py --method setr --variant selection_only --requests 32
    python benchmarks/serve_load.py --method topk --requests 400
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import socket
import statistics
import sys
import time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def run_level(url: str, bodies: list[dict], concurrency: int, n: int, max_seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + max_seconds
    with httpx.Client(timeout=300.0) as client:

        def call(i: int):
            if time.perf_counter() > deadline:
                return None
            t0 = time.perf_counter()
            r = client.post(f"{url}/v1/select", json=bodies[i % len(bodies)])
            return (time.perf_counter() - t0, r.status_code)

        start = time.perf_counter()
        with cf.ThreadPoolExecutor(max_workers=concurrency) as pool:
            for res in pool.map(call, range(n)):
                if res is None:
                    continue
                latencies.append(res[0])
                errors += res[1] != 200
        wall = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(_percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(_percentile(latencies, 95) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
        "rps": round(len(latencies) / wall, 2) if wall > 0 else None,
        "wall_s": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="setr")
    parser.add_argument("--variant", default="selection_only")
    parser.add_argument("--model", default="hf:smollm2-135m")
    parser.add_argument("--requests", type=int, default=32, help="requests per concurrency level")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--batch-size", type=int, default=8, help="max_batch_size when batching is on")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="time bound per level")
    args = parser.parse_args(argv)

    from setsel.distributed.runtime import set_local_env

    set_local_env()  # before `import ray`: keeps every Ray socket on 127.0.0.1
    from ray import serve

    from setsel.config import build_config
    from setsel.datasets.demo import load_demo
    from setsel.distributed.runtime import init_ray
    from setsel.distributed.serve import SelectorDeployment
    from setsel.distributed.serve_schema import ServeAppConfig

    bodies = [
        {"question": c.query.question, "passages": [{"id": p.id, "title": p.title, "text": p.text} for p in c.passages]}
        for c in load_demo()
    ]
    init_ray(num_cpus=4)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}"
    results = []
    for label, batch in (("batching_on", args.batch_size), ("batching_off", 1)):
        cfg = build_config(ServeAppConfig, {"model": args.model, "method": args.method, "variant": args.variant,
                                      "allowed_methods": [args.method],
                                      "batching": {"max_batch_size": batch, "batch_wait_timeout_s": 0.05}})
        serve.run(SelectorDeployment.options(max_ongoing_requests=128).bind(cfg), name="bench", route_prefix="/")
        run_level(url, bodies, 1, 2, 120.0)  # warm-up
        for conc in (int(c) for c in args.concurrency.split(",")):
            level = run_level(url, bodies, conc, args.requests, args.max_seconds)
            level["mode"] = label
            results.append(level)
            print(json.dumps(level), file=sys.stderr)
        serve.delete("bench")
    serve.shutdown()
    print(json.dumps({"benchmark": "serve_load", "method": args.method, "variant": args.variant,
                      "model": args.model, "cpu_count": os.cpu_count(), "levels": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
