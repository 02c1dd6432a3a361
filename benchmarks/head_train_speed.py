"""Training speed of the ``llm_head`` selector on this CPU: fp32 against bf16, shallow against full depth.

    .venv/bin/python benchmarks/head_train_speed.py [--config configs/train_head.yaml] [--n 8] \\
        [--run runs/llm_head] [--json docs/benchmarks/head_train_speed.json]

Inputs: the training config (base model, kept layers, LoRA layers, word budget, training
questions) and ``--n`` training questions spread over the whole set (every ``len/n``-th, so the
2Wiki, HotpotQA and 20-passage MuSiQue pools all appear), each encoded exactly as the trainer
does (a seeded permutation of its pool, :class:`~setsel.prompts.pool_layout.PoolLayout`).

Settings timed (one warm-up example, then forward + backward + optimizer step per example):

- ``bf16`` — the config as trained where the CPU has native bf16: base weights in bf16, LoRA
  and head in fp32, autocast to bf16;
- ``fp32`` — the same model in fp32, no autocast;
- ``bf16-full-depth`` — all decoder layers kept, LoRA on every one (what the config's
  ``keep_layers``/``lora_layers`` save).

Reported per setting: mean tokens per example, s/example (mean, median), examples/hour,
tokens/s, and the speed-up of each against ``fp32``; the CPU's fp32 and bf16 matmul rate
(a 1024³ torch matmul, :func:`setsel.hardware.matmul_gflops`); with ``--run``, the finished run's own wall
time from its ``setsel_head.json``. On a CPU without native bf16 the bf16 settings are skipped
(emulated bf16 is ~100× slower). Output: one JSON object on stdout (and in ``--json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parents[1]


def measure(cfg, questions, precision: str) -> dict:
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits

    from setsel.training.head import build_model, permuted

    model = build_model(cfg, precision)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)
    times, tokens = [], []
    for i, c in enumerate(questions):
        shown, labels = permuted(c, f"bench:{c.query.id}")
        seq = model.encode(c.query.question, shown)
        t0 = time.perf_counter()
        with model.autocast():
            logits = model.forward_sequences([seq])[0].float()
        loss = binary_cross_entropy_with_logits(logits, torch.tensor(labels))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:  # the first example warms up
            times.append(time.perf_counter() - t0)
            tokens.append(seq.length)
    mean = statistics.mean(times)
    return {"examples": len(times), "mean_tokens": round(statistics.mean(tokens), 1),
            "s_per_example": round(mean, 3), "median_s": round(statistics.median(times), 3),
            "examples_per_hour": round(3600 / mean), "tokens_per_s": round(sum(tokens) / sum(times), 1),
            "layers": cfg.keep_layers, "lora_layers": cfg.lora_layers}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/train_head.yaml", help="training config (default %(default)s)")
    ap.add_argument("--n", type=int, default=8, help="timed examples per setting, +1 warm-up (default %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    ap.add_argument("--run", default=None, help="also report a finished run's folder (its setsel_head.json)")
    ap.add_argument("--json", help="also write the JSON here")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import torch

    from setsel.config import load_config
    from setsel.hardware import cpu_bf16_supported, matmul_gflops
    from setsel.training.cross_encoder import labelled_questions
    from setsel.training.head import HeadTrainConfig

    cfg = load_config(HeadTrainConfig, args.config)
    threads = args.threads or cfg.num_threads
    if threads:
        torch.set_num_threads(threads)
    questions = labelled_questions(cfg)  # type: ignore[arg-type]
    step = max(1, len(questions) // args.n)
    picked = questions[:: step][: args.n + 1]
    native = cpu_bf16_supported()
    report: dict = {"benchmark": "head_train_speed", "config": args.config, "cpu": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(), "native_bf16": native,
                    "matmul_gflops": {"fp32": matmul_gflops("fp32", n=1024),
                                      "bf16": matmul_gflops("bf16", n=1024) if native else None},
                    "settings": {}}
    full = dataclasses.replace(cfg, keep_layers=None, lora_layers=30)   # SmolLM2-135M: 30 layers, LoRA on all
    plan = [("fp32", cfg, "fp32")]
    if native:
        plan = [("bf16", cfg, "bf16"), *plan, ("bf16-full-depth", full, "bf16")]
    for name, c, precision in plan:
        report["settings"][name] = measure(c, picked, precision)
        print(f"{name}: {report['settings'][name]}", file=sys.stderr, flush=True)
    base = report["settings"]["fp32"]["s_per_example"]
    for name, row in report["settings"].items():
        row["speedup_vs_fp32"] = round(base / row["s_per_example"], 2)
    if args.run:
        meta = json.loads((Path(args.run) / "setsel_head.json").read_text())
        report["run"] = {"folder": args.run, **{k: v for k, v in meta["train"].items() if k != "config"}}
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
