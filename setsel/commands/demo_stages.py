"""The stages of ``setsel demo``, each a plain function over the demo's output folder.

index → retrieve → methods (top-k, the shipped llm_head, SetR, OptiSet, evaluated with answers) → synthesize
(OptiSet Algorithm 1 on the training half) → train (a few LoRA steps, set-list-wise loss,
Ray Train) → before/after (the trained selector vs the same prompt on the base model, on
the held-out half) → serve (one ``/v1/search`` request through the Ray Serve app, llm_head by default).

Every stage returns a small dict for the summary; the orchestration, timing and failure
handling live in :mod:`setsel.commands.demo`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Budgets that keep the whole demo under 10 minutes on a 2-core CPU, where prefill is the
# cost (~400 prompt tokens/s): measured 2026-11-30, full passages with 64/48 reasoning tokens
# and up to 4 sub-queries made the methods stage 539 s (OptiSet 320 s, 6.2k prompt tokens a
# question even at 60 words); so passages are cut to 40 words, reasoning is short, and
# OptiSet expands into one sub-query (question + sub-query + refine = 3 prompts).
DEMO_WORDS = 40
METHODS = [
    # (label, method, options)
    ("topk-3", "topk", {"k": 3}),
    # The shipped trained selector (issue 18): SmolLM2 + LoRA + per-passage head, setsel/models/.
    ("llm_head", "llm_head", {}),
    ("setr-selection_only", "setr", {"variant": "selection_only", "max_words": DEMO_WORDS}),
    ("setr-iri", "setr", {"variant": "iri", "reasoning_tokens": 48, "max_words": DEMO_WORDS}),
    ("optiset", "optiset", {"reasoning_tokens": 24, "max_subqueries": 1, "expand_tokens": 40,
                            "max_words": DEMO_WORDS}),
]


class DemoState:
    """What the stages share: options, paths, the engine, and results so far."""

    def __init__(self, out: Path, model: str, limit: int | None, generate: bool, methods: list[str],
                 train_steps: int) -> None:
        self.out, self.model, self.limit, self.generate = out, model, limit, generate
        self.methods, self.train_steps = methods, train_steps
        self.engine = None
        self.candidates: list = []
        self.results: dict[str, dict] = {}
        self.adapter: str | None = None

    def get_engine(self):
        if self.engine is None:
            from setsel.engines import load_engine

            self.engine = load_engine(self.model, batch_size=16)  # the 12 demo questions in one batch
        return self.engine

    @property
    def halves(self) -> tuple[list, list]:
        """(training half, held-out half) of the retrieved questions."""
        n = len(self.candidates) // 2
        return self.candidates[:n], self.candidates[n:]


def stage_index(s: DemoState) -> dict[str, Any]:
    from setsel.retrieval.job import IndexJobConfig, run_index

    m = run_index(IndexJobConfig(dataset="demo", out=str(s.out / "index"), retriever="hybrid", progress=False,
                                 overwrite=True))
    return {"passages": m["count"], "retriever": m["retriever"], "encoder": m["encoder"]["name"]}


def stage_retrieve(s: DemoState) -> dict[str, Any]:
    from setsel.io import read_candidates
    from setsel.retrieval.job import RetrieveJobConfig, run_retrieve

    path = s.out / "candidates.parquet"
    run_retrieve(RetrieveJobConfig(index=str(s.out / "index"), out=str(path), k=10, limit=s.limit, progress=False))
    s.candidates = read_candidates(path)
    recall = [len(set(c.ids) & set(c.query.gold_passage_ids)) / len(c.query.gold_passage_ids)
              for c in s.candidates if c.query.gold_passage_ids]
    return {"questions": len(s.candidates), "k": 10, "recall@10": round(sum(recall) / max(1, len(recall)), 3)}


def _evaluate(s: DemoState, label: str, method: str, options: dict, cands: list, folder: str) -> dict:
    from setsel.evaluation.report import write_report
    from setsel.evaluation.runner import evaluate
    from setsel.selection import get_selector, get_selector_class

    opts = dict(options)
    llm = get_selector_class(method).uses_llm
    if llm and "engine" not in opts:
        opts["engine"] = s.get_engine()
    selector = get_selector(method, **opts)
    model = s.model if llm else getattr(selector.options, "model", None)
    result = evaluate(cands, selector, k=3, generate=s.generate, generator=s.get_engine() if s.generate else None,
                      dataset="demo (retrieved)", model=model)
    shown = {k: v for k, v in options.items() if k != "engine"}
    write_report(result, s.out / folder / label, settings={"method": label, **shown})
    return result.metrics


def stage_methods(s: DemoState) -> dict[str, Any]:
    failed = []
    for label, method, options in METHODS:
        if label not in s.methods:
            continue
        try:
            s.results[label] = _evaluate(s, label, method, options, s.candidates, "methods")
        except Exception as exc:  # noqa: BLE001 - one method failing must not hide the others
            print(f"  {label}: FAILED: {type(exc).__name__}: {exc}")
            failed.append(label)
    if failed:
        raise RuntimeError(f"methods failed: {failed}")
    return {"methods": list(s.results)}


def stage_synthesize(s: DemoState) -> dict[str, Any]:
    from setsel.config import build_config
    from setsel.io import write_records
    from setsel.synthesis.job import SynthesisConfig, run

    train, _ = s.halves
    write_records(s.out / "train_questions.parquet", train)
    cfg = build_config(SynthesisConfig, {
        "out": str(s.out / "synthesis"), "selector": s.model,
        "datasets": [{"name": "jsonl", "path": str((s.out / "train_questions.parquet").resolve())}],
        "engine_options": {"batch_size": 8},
        "esr": {"k": 2, "max_words": DEMO_WORDS, "max_subqueries": 1, "expand_tokens": 32, "select_tokens": 24},
        "m": 3, "copies": 1, "min_spread": 0.0, "batch_size": 6, "ray": {"enabled": False},
    })
    summary = run(cfg, progress=False)
    keep = ("n_questions_sampled", "n_examples", "alpha", "beta", "share_positive", "avg_set_size")
    return {k: summary.get(k) for k in keep if k in summary}


def stage_train(s: DemoState) -> dict[str, Any]:
    import shutil

    from setsel.distributed.train import run_training
    from setsel.io import read_records, write_records
    from setsel.paths import REPO_ROOT
    from setsel.training.config import load_train_config
    from setsel.training.curves import read_metrics
    from setsel.types import TrainExample
    from setsel.training.gold import candidates_gold_examples

    shutil.rmtree(s.out / "train", ignore_errors=True)  # a rerun of the demo trains afresh

    synth = s.out / "synthesis" / "train.parquet"
    examples = read_records(synth, TrainExample) if synth.exists() else []
    source = f"{len(examples)} synthesised examples"
    if len(examples) < 2:  # a handful of questions may all be filtered out: say so, top up with gold-proxy sets
        gold = candidates_gold_examples(s.halves[0])
        examples += gold
        source += f" + {len(gold)} gold-proxy examples (synthesis kept too few)"
    if not examples:
        raise RuntimeError("no training examples: synthesis kept none and no question has 2 gold + 2 other passages")
    data = s.out / "train_examples.parquet"
    write_records(data, examples)
    epochs = -(-s.train_steps // len(examples))  # enough passes over the examples for train_steps steps
    cfg = load_train_config(REPO_ROOT / "configs" / "train_tiny_cpu.yaml", [
        f"data.train={data}", f"output_dir={s.out / 'train'}", f"optim.max_steps={s.train_steps}",
        f"optim.epochs={epochs}", "optim.grad_accum=1", "ray.num_actors=1", "scaling.strategy=ddp",
        "scaling.threads_per_worker=2", "resume=false", "checkpoint_every=1000",
    ])
    summary = run_training(cfg)
    s.adapter = summary["adapter"]
    rows = read_metrics(s.out / "train" / "metrics.jsonl")
    if summary["curve"]:  # run_training drew it (setsel.training.curves)
        shutil.copyfile(summary["curve"], s.out / "train_loss.png")
    return {"data": source, "examples": len(examples), "steps": summary["step"], "first_loss": rows[0].get("loss") if rows else None,
            "last_loss": rows[-1].get("loss") if rows else None, "fit_s": summary["fit_seconds"]}


def stage_before_after(s: DemoState) -> dict[str, Any]:
    _, held_out = s.halves
    out = {}
    for label, engine_opts in (("untrained", {}), ("trained", {"adapter": s.adapter})):
        from setsel.engines import load_engine

        engine = s.get_engine() if not engine_opts else load_engine(s.model, batch_size=8, **engine_opts)
        m = _evaluate(s, f"setr-trained-prompt-{label}", "setr",
                      {"variant": "trained", "engine": engine, "max_words": DEMO_WORDS},
                      held_out, "before_after")
        s.results[f"held-out: {label}"] = m
        out[label] = {k: m.get(k) for k in ("set_f1", "avg_selected", "parse_failed_rate")}
    return out


def stage_serve(s: DemoState) -> dict[str, Any]:
    import socket

    import httpx

    from setsel.config import build_config
    from setsel.distributed.serve_deploy import deploy, shutdown
    from setsel.distributed.serve_schema import ServeAppConfig

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine_options = {"adapter": s.adapter} if s.adapter else {}
    # The default selector is the shipped llm_head; setr (the demo's own adapter when trained) stays allowed.
    cfg = build_config(ServeAppConfig, {"model": s.model, "method": "llm_head", "variant": None,
                                  "allowed_methods": ["llm_head", "setr", "topk"],
                                  "engine_options": engine_options, "index": str(s.out / "index")})
    try:
        url = deploy(cfg, {"ray_actor_options": {"num_cpus": 0.5}}, host="127.0.0.1", port=port, name="demo")
        question = s.candidates[-1].query.question if s.candidates else "Who wrote Hamlet?"
        r = httpx.post(f"{url}/v1/search", json={"question": question, "k": 8}, timeout=300)
        r.raise_for_status()
        body = r.json()
    finally:
        shutdown()
    (s.out / "serve_response.json").write_text(json.dumps({"question": question, "response": body}, indent=2))
    return {"question": question, "selected": body["selected"], "parse_status": body["parse_status"]}
