"""Training speed of the selector on this CPU: fp32 against bf16 mixed precision, on real examples.

    .venv/bin/python benchmarks/train_speed.py [--config configs/train_gold.yaml] [--n 12] \\
        [--json docs/benchmarks/train_speed.json]

Inputs: the training config (model, LoRA, prompt template, word budget, data file — run
``setsel synthesize --config configs/synthesize_gold.yaml`` first), and ``--n`` examples
spread over its data file (every ``len/n``-th, so 2Wiki, HotpotQA and the longer 20-passage
MuSiQue pools all appear), collated exactly as the trainer does.

Per precision (``fp32``: fp32 weights, no autocast; ``bf16``: what ``precision: auto`` picks on
a CPU with avx512_bf16 — frozen base in bf16, LoRA in fp32, autocast to bf16): one warm-up
example, then forward + backward + optimizer step of each example, timed one by one.
Reported: mean tokens per example, s/example (mean, median), examples/hour, tokens/s, peak
RSS, the loss of the first example (the two precisions agree to ~1e-2), and the bf16 / fp32
speed-up. The CPU's own fp32 and bf16 matmul rate (a 1024³ torch matmul) is measured too; on a
CPU without native bf16 (no avx512_bf16 / amx_bf16) bf16 is emulated and ~100× slower, so it is
reported as skipped (``--force-bf16`` times it anyway). The whole-run figure (``--run DIR``) reads ``metrics.jsonl`` of a finished
``setsel train`` run: its wall time and examples/hour.

Output: one JSON object on stdout (and in ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def measure(cfg, examples, precision: str) -> dict:
    import torch

    from setsel.training.data import Collator
    from setsel.training.model import load_for_training
    from setsel.training.objective import SETS_FOR_LOSS, batch_losses

    dtype = "bf16" if precision == "bf16" and cfg.lora.enabled else "fp32"
    tok, model = load_for_training(cfg.model, cfg.lora, dtype=dtype)
    model.train()
    collator = Collator(tok, cfg.data.template, cfg.data.max_length, sets=SETS_FOR_LOSS[cfg.loss],
                        target=cfg.data.target, padding_side=cfg.data.padding_side, max_sets=cfg.data.max_sets,
                        max_words=cfg.data.max_words)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    times, tokens, first_loss = [], [], None
    for i, ex in enumerate([examples[0], *examples]):
        batch = collator([ex])
        t0 = time.perf_counter()
        with autocast:
            per, _ = batch_losses(model, batch, cfg.loss, lam=cfg.lam, beta=cfg.beta)
        per.sum().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i == 0:
            first_loss = float(per.detach().sum())
            continue  # warm-up
        times.append(time.perf_counter() - t0)
        tokens.append(int(batch["attention_mask"].sum()))
    mean = statistics.mean(times)
    return {"precision": precision, "base_dtype": dtype, "examples": len(times),
            "mean_tokens": round(statistics.mean(tokens), 1), "s_per_example": round(mean, 3),
            "s_per_example_median": round(statistics.median(times), 3), "examples_per_hour": round(3600 / mean),
            "tokens_per_s": round(sum(tokens) / sum(times), 1), "first_loss": round(first_loss, 4),
            "trainable_params": sum(p.numel() for p in params)}


def run_summary(folder: Path) -> dict | None:
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        return None
    last = rows[-1]
    summary = {"run": str(folder), "steps": last["step"], "total_steps": last["total_steps"],
               "elapsed_s": last["elapsed_s"], "final_loss": round(last["loss"], 4)}
    state = folder / "train_summary.json"
    if state.is_file():
        summary["train_summary"] = json.loads(state.read_text())
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/train_gold.yaml", help="training config (default %(default)s)")
    ap.add_argument("--n", type=int, default=12, help="timed examples per precision (default %(default)s)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: one per core)")
    ap.add_argument("--run", default=None, help="also summarise a finished run's metrics.jsonl (its output_dir)")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--force-bf16", action="store_true", help="time bf16 even where the CPU emulates it")
    args = ap.parse_args(argv)

    import torch

    from setsel.hardware import cpu_bf16_supported, matmul_gflops
    from setsel.training.config import load_train_config
    from setsel.training.data import read_examples, select_examples
    from setsel.training.objective import SETS_FOR_LOSS

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_train_config(args.config)
    if not Path(cfg.data.train).is_file():
        print(f"train_speed: {cfg.data.train} does not exist; run setsel synthesize first", file=sys.stderr)
        return 2
    pool = select_examples(read_examples(cfg.data.train), SETS_FOR_LOSS[cfg.loss], cfg.data.target,
                           cfg.data.max_copies)
    step = max(1, len(pool) // args.n)
    examples = pool[::step][: args.n]
    native_bf16 = cpu_bf16_supported()
    peak = {dt: matmul_gflops(dt, n=1024) for dt in ("fp32", "bf16")}
    precisions = ("fp32", "bf16") if native_bf16 or args.force_bf16 else ("fp32",)
    results = {p: measure(cfg, examples, p) for p in precisions}
    if "bf16" not in results:  # emulated bf16 is far slower than fp32: not worth timing a model
        results["bf16"] = {"skipped": "this CPU has no avx512_bf16/amx_bf16: bf16 matmuls are emulated "
                                      f"({peak['bf16']} GFLOP/s against {peak['fp32']} in fp32); "
                                      "precision: auto trains in fp32 here (--force-bf16 times it anyway)"}
    report = {
        "benchmark": "train_speed", "config": args.config, "model": cfg.model, "loss": cfg.loss,
        "lora_r": cfg.lora.r if cfg.lora.enabled else None, "max_words": cfg.data.max_words,
        "threads": torch.get_num_threads(), "cpu_bf16": native_bf16, "matmul_gflops": peak,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.processor()},
        "date": time.strftime("%Y-%m-%d"), **results,
        "bf16_speedup": (round(results["fp32"]["s_per_example"] / results["bf16"]["s_per_example"], 2)
                         if "s_per_example" in results["bf16"] else None),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "full_run": run_summary(Path(args.run)) if args.run else None,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
