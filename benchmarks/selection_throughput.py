"""Selection throughput of SetR and OptiSet with SmolLM2-135M on this CPU: the fp32 per-question
loop (the old default) against batched selection in fp32 and in the engine's default dtype.

    .venv/bin/python benchmarks/selection_throughput.py [--n-questions 16] [--reasoning-tokens 64]
        [--variants selection_only,iri,optiset] [--optiset-modes default_batched]
        [--batch-size 8] [--max-words 100] [--num-threads 2] [--json docs/benchmarks/selection_throughput.json]

Inputs: the first ``--n-questions`` questions of HotpotQA (IRCoT) dev
(``hotpotqa_ircot500/dev.jsonl``; data dir ``$SETSEL_DATA_DIR`` or ``../shared/data``), each
with its own pool of about 10 paragraphs, cut to ``--max-words`` words per passage.

Modes, each with its own loaded hf engine (``--batch-size`` rows decoded together):

- ``fp32_loop``: ``dtype=float32``, ``selector.select([c])`` one question at a time — the
  baseline (what setsel did before bf16 engines);
- ``fp32_batched``: ``dtype=float32``, ``selector.select(all questions)`` in one call;
- ``default_batched``: the engine's default dtype (``auto``: bf16 on a CPU with
  avx512_bf16/AMX, else fp32), one call.

Variants: SetR ``selection_only`` (constrained selection), SetR ``iri`` (reasoning up to
``--reasoning-tokens`` tokens, then the constrained selection), ``optiset`` (Expand, Select
for the question and each sub-query over one pool, Refine; ``--optiset-modes`` picks its
modes, since its fp32 loop alone takes tens of minutes here).

Reported per mode: wall s, questions/s, share of wall inside the model forward (forward
hooks, :class:`setsel.engines.hf.ForwardStats`), prefill and decode tokens and tokens/s,
achieved prefill GFLOP/s (2 × non-embedding parameters × prefill tokens ÷ prefill seconds;
attention FLOPs left out, so a lower bound) and its share of this CPU's matmul peak in the
mode's dtype (a 2048³ torch matmul, :func:`setsel.hardware.matmul_gflops`, measured in the
same run and thread count), parse statuses, avg selected; per variant the ratios
``default_vs_fp32_loop``, ``batched_vs_loop_fp32`` and whether the modes chose the same
sets; overall ``optiset_vs_iri`` (seconds per question, default mode) and the targets of
issue 19 with pass/miss.

Output: one JSON object on stdout (and in ``--json`` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODES = {"fp32_loop": ("float32", False), "fp32_batched": ("float32", True), "default_batched": ("auto", True)}
TARGETS = {"default_vs_fp32_loop": 3.0, "batched_vs_loop_fp32": 1.2, "optiset_vs_iri_max": 2.0, "prefill_peak_share": 0.5}


def body_params(model) -> int:
    """Parameters outside the embedding / output projection (what a token's forward multiplies)."""
    embed = {id(p) for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None
             for p in m.parameters()}
    return sum(p.numel() for p in model.parameters() if id(p) not in embed)


def run_mode(selector, engine, batch, batched: bool, peak: float, n_body: int) -> tuple[dict, list]:
    """Select for ``batch`` in one call or question by question; wall time and forward split."""
    engine.stats.reset()
    start = time.perf_counter()
    if batched:
        selections = selector.select(batch)
    else:
        selections = [s for c in batch for s in selector.select([c])]
    wall = time.perf_counter() - start
    st = engine.stats
    prefill_gflops = 2 * n_body * st.prefill_tokens / st.prefill_s / 1e9 if st.prefill_s else 0.0
    return {
        "dtype": engine.dtype,
        "wall_s": round(wall, 2),
        "questions_per_s": round(len(batch) / wall, 4),
        "s_per_question": round(wall / len(batch), 2),
        "forward_share": round(st.forward_s / wall, 4),
        "prefill_s": round(st.prefill_s, 2),
        "prefill_tokens": st.prefill_tokens,
        "prefill_tokens_per_s": round(st.prefill_tokens / st.prefill_s, 1) if st.prefill_s else None,
        "decode_s": round(st.decode_s, 2),
        "decode_tokens": st.decode_tokens,
        "decode_tokens_per_s": round(st.decode_tokens / st.decode_s, 1) if st.decode_s else None,
        "prefill_gflops": round(prefill_gflops, 1),
        "prefill_peak_share": round(prefill_gflops / peak, 3) if peak else None,
        "prompt_tokens": sum(s.prompt_tokens for s in selections),
        "completion_tokens": sum(s.completion_tokens for s in selections),
        "parse_status": dict(Counter(s.parse_status for s in selections)),
        "avg_selected": round(sum(len(s.selected_ids) for s in selections) / len(selections), 3),
    }, selections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-questions", type=int, default=16)
    parser.add_argument("--reasoning-tokens", type=int, default=64)
    parser.add_argument("--variants", default="selection_only,iri,optiset")
    parser.add_argument("--modes", default=",".join(MODES), help="modes for the SetR variants")
    parser.add_argument("--optiset-modes", default="default_batched", help="modes for optiset")
    parser.add_argument("--batch-size", type=int, default=8, help="engine rows decoded together")
    parser.add_argument("--max-words", type=int, default=100, help="words per passage in the prompt")
    parser.add_argument("--num-threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--json", default=None, help="also write the JSON here")
    args = parser.parse_args()

    import torch

    from setsel.datasets import load_dataset
    from setsel.engines.hf import HFEngine
    from setsel.hardware import matmul_gflops, resolve_dtype
    from setsel.selection import get_selector

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    batch = load_dataset("hotpotqa-ircot", limit=args.n_questions)
    peaks = {"float32": matmul_gflops("fp32"), "bfloat16": matmul_gflops("bf16")}
    result: dict = {
        "benchmark": "selection_throughput", "model": args.model, "dataset": "hotpotqa-ircot dev",
        "n_questions": len(batch), "reasoning_tokens": args.reasoning_tokens, "batch_size": args.batch_size,
        "max_words": args.max_words, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "machine": platform.machine(), "date": time.strftime("%Y-%m-%d"),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "matmul_peak_gflops": peaks, "variants": {}, "targets": TARGETS,
    }
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    wanted = {m for v in variants for m in (args.optiset_modes if v == "optiset" else args.modes).split(",") if m}
    default_dtype = resolve_dtype("auto")
    result["default_dtype"] = default_dtype
    for mode in [m for m in MODES if m in wanted]:
        dtype, batched = MODES[mode]
        if mode == "default_batched" and default_dtype == "float32" and all(
                "fp32_batched" in result["variants"].get(v, {}) for v in variants
                if mode in (args.optiset_modes if v == "optiset" else args.modes).split(",")):
            for v in variants:
                if "fp32_batched" in result["variants"].get(v, {}):
                    result["variants"][v][mode] = {**result["variants"][v]["fp32_batched"], "same_run_as": "fp32_batched"}
            continue
        engine = HFEngine(args.model, batch_size=args.batch_size, dtype=dtype)
        n_body = body_params(engine.model)
        peak = peaks.get(engine.dtype, 0.0)
        # Warm-up: compile the selection grammar, touch every code path once (not timed).
        get_selector("setr", variant="selection_only", engine=engine, max_words=args.max_words).select(batch[:1])
        for variant in variants:
            if mode not in (args.optiset_modes if variant == "optiset" else args.modes).split(","):
                continue
            done = result["variants"].get(variant, {})
            if mode == "default_batched" and default_dtype == "float32" and "fp32_batched" in done:
                # No native bf16 on this CPU: the default is fp32 batched, already timed.
                done[mode] = {**done["fp32_batched"], "same_run_as": "fp32_batched"}
                continue
            if variant == "optiset":
                selector = get_selector("optiset", engine=engine, max_words=args.max_words,
                                        reasoning_tokens=args.reasoning_tokens)
            else:
                selector = get_selector("setr", variant=variant, engine=engine, max_words=args.max_words,
                                        reasoning_tokens=args.reasoning_tokens)
            row, sel = run_mode(selector, engine, batch, batched, peak, n_body)
            row["selected"] = [s.selected_ids for s in sel]
            result["variants"].setdefault(variant, {})[mode] = row
            print(f"{variant} {mode}: {row['s_per_question']} s/question", flush=True, file=sys.stderr)
        engine.close()
    _ratios(result)
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


def _ratios(result: dict) -> None:
    """Speed ratios per variant, same-selection counts, and the targets met or missed."""
    met: dict = {}
    for name, modes in result["variants"].items():
        qps = {m: r["questions_per_s"] for m, r in modes.items()}
        if "fp32_loop" in qps and "default_batched" in qps:
            modes["default_vs_fp32_loop"] = round(qps["default_batched"] / qps["fp32_loop"], 3)
            met[f"{name}: default ≥ {TARGETS['default_vs_fp32_loop']}× fp32 loop"] = modes["default_vs_fp32_loop"]
        if "fp32_loop" in qps and "fp32_batched" in qps:
            modes["batched_vs_loop_fp32"] = round(qps["fp32_batched"] / qps["fp32_loop"], 3)
            met[f"{name}: fp32 batched ≥ {TARGETS['batched_vs_loop_fp32']}× fp32 loop"] = modes["batched_vs_loop_fp32"]
        picked = {m: r.pop("selected") for m, r in modes.items() if isinstance(r, dict) and "selected" in r}
        if len(picked) > 1:
            first, *rest = picked.values()
            modes["same_selection_as_first_mode"] = {m: sum(a == b for a, b in zip(first, v))
                                                     for m, v in list(picked.items())[1:]}
        if "default_batched" in modes:
            met[f"{name}: prefill ≥ {TARGETS['prefill_peak_share']:.0%} of matmul peak"] = \
                modes["default_batched"]["prefill_peak_share"]
    v = result["variants"]
    if "default_batched" in v.get("optiset", {}) and "default_batched" in v.get("iri", {}):
        ratio = v["optiset"]["default_batched"]["s_per_question"] / v["iri"]["default_batched"]["s_per_question"]
        result["optiset_vs_iri"] = round(ratio, 2)
        met[f"optiset ≤ {TARGETS['optiset_vs_iri_max']}× SetR-IRI per question"] = result["optiset_vs_iri"]
    result["targets_measured"] = met


if __name__ == "__main__":
    main()
