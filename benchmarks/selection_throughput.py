"""Selection throughput of SetR with SmolLM2-135M on CPU: a per-question loop vs the batched selector.

    .venv/bin/python benchmarks/selection_throughput.py [--n-questions 32] [--reasoning-tokens 64]
        [--variants selection_only,iri] [--batch-size 8] [--max-words 100] [--num-threads 1]

Inputs: the first ``--n-questions`` questions of HotpotQA (IRCoT) dev
(``hotpotqa_ircot500/dev.jsonl``; data dir ``$SETSEL_DATA_DIR`` or ``../shared/data``), each
with its own pool of about 10 paragraphs, cut to ``--max-words`` words per passage.

For each SetR variant (``selection_only``: constrained selection only; ``iri``: two-phase,
reasoning up to ``--reasoning-tokens`` tokens then the constrained selection), with one
loaded hf engine (``--batch-size`` rows per forward, ``--num-threads`` torch threads):

- ``loop``: ``selector.select([c])`` for one question at a time;
- ``batched``: ``selector.select(all questions)`` in one call (each stage one engine call).

Reported per mode: wall seconds, questions/s, the share of wall time spent inside the
model's forward (forward hooks of the hf engine, :class:`setsel.engines.hf.ForwardStats`;
the rest is tokenization, grammar masking, the generation loop, prompt rendering, parsing),
prompt / completion tokens, parse statuses, and whether both modes chose the same sets
(greedy decoding: they should, up to numerical differences of padded batches). ``speedup`` =
batched questions/s ÷ loop questions/s.

Output: one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def run_mode(selector, engine, batch, batched: bool) -> tuple[dict, list]:
    """Select for ``batch`` in one call or question by question; wall time and forward share."""
    engine.stats.reset()
    start = time.perf_counter()
    if batched:
        selections = selector.select(batch)
    else:
        selections = [s for c in batch for s in selector.select([c])]
    wall = time.perf_counter() - start
    stats = engine.stats
    return {
        "wall_s": round(wall, 3),
        "questions_per_s": round(len(batch) / wall, 4),
        "forward_s": round(stats.forward_s, 3),
        "forward_share": round(stats.forward_s / wall, 4),
        "prefill_tokens": stats.prefill_tokens,
        "decode_tokens": stats.decode_tokens,
        "prompt_tokens": sum(s.prompt_tokens for s in selections),
        "completion_tokens": sum(s.completion_tokens for s in selections),
        "parse_status": dict(Counter(s.parse_status for s in selections)),
        "fallbacks": sum(s.fallback_used is not None for s in selections),
        "avg_selected": round(sum(len(s.selected_ids) for s in selections) / len(selections), 3),
    }, selections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-questions", type=int, default=32)
    parser.add_argument("--reasoning-tokens", type=int, default=64)
    parser.add_argument("--variants", default="selection_only,iri")
    parser.add_argument("--batch-size", type=int, default=8, help="engine rows per forward batch")
    parser.add_argument("--max-words", type=int, default=100, help="words per passage in the prompt")
    parser.add_argument("--num-threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--model", default="hf:smollm2-135m")
    args = parser.parse_args()

    from setsel.datasets import load_dataset
    from setsel.engines import load_engine
    from setsel.selection import get_selector

    batch = load_dataset("hotpotqa-ircot", limit=args.n_questions)
    t0 = time.perf_counter()
    engine = load_engine(args.model, batch_size=args.batch_size, num_threads=args.num_threads)
    load_s = time.perf_counter() - t0
    import torch

    result = {
        "benchmark": "selection_throughput",
        "model": args.model,
        "dataset": "hotpotqa-ircot dev",
        "n_questions": len(batch),
        "reasoning_tokens": args.reasoning_tokens,
        "batch_size": args.batch_size,
        "max_words": args.max_words,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "machine": platform.machine(),
        "engine_load_s": round(load_s, 2),
        "variants": {},
    }
    # Warm-up: compile the selection grammar and touch every code path once (not timed).
    get_selector("setr", variant="selection_only", engine=engine, max_words=args.max_words).select(batch[:1])
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        selector = get_selector("setr", variant=variant, engine=engine, max_words=args.max_words,
                                reasoning_tokens=args.reasoning_tokens)
        loop, loop_sel = run_mode(selector, engine, batch, batched=False)
        batched, batched_sel = run_mode(selector, engine, batch, batched=True)
        same = sum(a.selected_ids == b.selected_ids for a, b in zip(loop_sel, batched_sel))
        result["variants"][variant] = {
            "loop": loop,
            "batched": batched,
            "speedup": round(batched["questions_per_s"] / loop["questions_per_s"], 3),
            "same_selection": f"{same}/{len(batch)}",
        }
    result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    engine.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
