"""Synthesis scaling: questions/s of the Ray Data synthesis job with 1 vs 2 engine actors; prints JSON.

Runs OptiSet Algorithm 1 (Expand → Select per sub-query → union → Refine, K samples, then
perplexity scoring) on the first ``--questions`` real training-side questions (openret
MuSiQue dev pools by default) through :func:`setsel.synthesis.job.run` with
``ray.enabled=True``, once per actor count, each time into a fresh output folder. Each engine
gets ``--threads-per-actor`` torch threads (default 1): with 1, two actors use both cores of
this machine where one actor uses one, which is what adding actors means on a cluster (one
GPU each). ``--threads-per-actor 0`` splits the cores instead (``cpus // actors`` each);
measured here, a 2-thread engine on cores that other work also uses is many times slower
than a 1-thread one (its threads spin-wait), so that setting mostly measures contention.

Usage:
    python benchmarks/synthesis_scaling.py [--questions 8] [--k 2] [--actors 1,2] [--model hf:smollm2-135m]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--k", type=int, default=2, help="ESR samples per question")
    parser.add_argument("--actors", default="1,2", help="comma-separated actor counts")
    parser.add_argument("--model", default="hf:smollm2-135m", help="selector and generator")
    parser.add_argument("--dataset", default="openret", help="dataset name (setsel.datasets)")
    parser.add_argument("--path", default="openret_bge/musique", help="dataset path under the data directory")
    parser.add_argument("--threads-per-actor", type=int, default=1,
                        help="torch threads per engine (0: split the machine's cores between the actors)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from setsel.config import build_config
    from setsel.distributed.runtime import init_ray
    from setsel.distributed.stages import run_synthesis as run
    from setsel.synthesis.job import SynthesisConfig

    cpus = os.cpu_count() or 2
    init_ray(num_cpus=cpus)
    work = Path(tempfile.mkdtemp(prefix="setsel-bench-synth-"))
    runs = []
    for n in [int(x) for x in args.actors.split(",")]:
        threads = args.threads_per_actor or max(1, cpus // n)
        out = work / f"actors{n}"
        shutil.rmtree(out, ignore_errors=True)
        cfg = build_config(SynthesisConfig, {
            "out": str(out), "selector": args.model,
            "datasets": [{"name": args.dataset, "path": args.path, "limit": args.questions}],
            "engine_options": {"batch_size": 8, "num_threads": threads},
            "esr": {"k": args.k, "max_words": 60, "max_subqueries": 2, "expand_tokens": 48, "select_tokens": 32},
            "batch_size": max(1, args.questions // (2 * n)), "ray": {"enabled": True, "num_actors": n,
            "num_cpus_per_actor": min(0.5, cpus / (n + 1))},
        })
        t = time.perf_counter()
        summary = run(cfg, progress=False)
        wall = time.perf_counter() - t
        runs.append({"actors": n, "threads_per_actor": threads, "questions": summary["n_questions_sampled"],
                     "wall_s": round(wall, 1), "questions_per_s": round(summary["n_questions_sampled"] / wall, 4)})
    result = {"benchmark": "synthesis_scaling", "model": args.model, "k": args.k, "cpus": cpus,
              "dataset": f"{args.dataset}:{args.path}", "runs": runs}
    if len(runs) >= 2 and runs[0]["questions_per_s"]:
        result["speedup"] = round(runs[-1]["questions_per_s"] / runs[0]["questions_per_s"], 3)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
