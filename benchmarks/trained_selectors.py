"""Issue 18's table (docs/results.md, "Trained selectors"): every row on the four dev pools, ranked and shuffled.

    .venv/bin/python benchmarks/trained_selectors.py [--run] [--out runs/results18] \\
        [--json docs/benchmarks/trained_selectors.json] [--markdown]

Four groups of :mod:`results_table` rows over hotpotqa-ircot, musique, openret-hotpotqa and
openret-musique (``--trained-limit`` questions of each, default all), each with its
``--shuffle-candidates 0`` twin:

- the shipped trained selector: ``llm-head`` (``llm_head`` on ``smollm2-135m-setsel``,
  ``--trained-limit`` questions per dataset, default all);
- the untrained base: SetR selection-only on ``hf:smollm2-135m`` (``--untrained-limit``, default
  100 questions: the LLM rows cost 1–3 s a question here; 0 skips them);
- LLM-free, on the same questions: top-k 2/3/5 and BM25 over the pool (``lexical2``/``lexical3``);
- the trained cross-encoder (``ce-trained``, needs ``runs/cross_encoder`` from ``setsel train-cross-encoder``).

Without ``--run`` it only collects rows already under ``--out`` (``results_table --no-run``)
and lists the missing ones; with ``--run`` it computes what is missing first (resumable:
finished rows are read back). LLM rows run on the hf engine in bf16 where the CPU has native
bf16 instructions (``dtype=bfloat16``), else in fp32.
Output: one JSON (the three groups' records) and, with ``--markdown``, the table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = ["hotpotqa-ircot", "musique", "openret-hotpotqa", "openret-musique"]
# MMR (k=3) is in the per-dataset tables of docs/results.md (same 100 questions, ~80 s a dataset)
FREE_ROWS = ["topk2", "topk3", "topk5", "lexical2", "lexical3"]


def _llm_engine() -> list[str]:
    """hf engine options of the LLM rows: bf16 where the CPU computes it natively, else fp32
    (emulated bf16 is ~100× slower than fp32: docs/benchmarks/train_speed.json)."""
    sys.path.insert(0, str(REPO))
    from setsel.hardware import cpu_bf16_supported

    dtype = "bfloat16" if cpu_bf16_supported() else "float32"
    return ["--engine-option", f"dtype={dtype}", "--engine-option", "batch_size=8", "--batch-size", "16"]


LLM_ENGINE = _llm_engine()
COLUMNS = ("set_precision", "set_recall", "set_f1", "avg_selected", "parse_failed_rate",
           "selector_completion_tokens", "wall_s", "n_queries")


def _table_module():
    spec = importlib.util.spec_from_file_location("results_table", REPO / "benchmarks" / "results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TRAINED_ROW = "llm-head"
UNTRAINED_ROW = "setr-selection_only"


def groups(out: str, untrained_limit: int, trained_limit: int = 1000) -> dict[str, list[str]]:
    common = ["--datasets", ",".join(DATASETS), "--shuffled", "--out", out]
    rows = {
        "trained": ["--rows", TRAINED_ROW, "--shuffle-all", "--limit", str(trained_limit), *common],
        "untrained": ["--model", "hf:smollm2-135m", "--rows", UNTRAINED_ROW, "--limit", str(untrained_limit),
                      *LLM_ENGINE, *common],
        "llm_free": ["--rows", ",".join(FREE_ROWS), "--shuffle-all", "--limit", str(trained_limit), *common],
        "cross_encoder": ["--rows", "ce-trained", "--shuffle-all", "--limit", str(trained_limit), *common],
    }
    if untrained_limit == 0:  # the untrained rows are read from docs/results.md instead
        del rows["untrained"]
    return rows


def collect(out: str, untrained_limit: int, run: bool, trained_limit: int = 1000,
            only: list[str] | None = None) -> dict:
    table = _table_module()
    report = {}
    for name, argv in groups(out, untrained_limit, trained_limit).items():
        if only and name not in only:
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            code = table.main(argv + ([] if run else ["--no-run"]))
        report[name] = {"argv": argv, "exit": code, **json.loads(buf.getvalue())}
    return report


def markdown(report: dict) -> str:
    def fmt(v):
        return "–" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    lines = []
    for dataset in DATASETS:
        lines += [f"**{dataset}**", "", "| row | " + " | ".join(COLUMNS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
        for group in ("trained", "untrained", "llm_free", "cross_encoder"):
            for r in report.get(group, {}).get("rows", []):
                if r["dataset"] == dataset and r.get("metrics"):
                    label = r["row"] + (" (untrained)" if group == "untrained" else "")
                    lines.append(f"| {label} | " + " | ".join(fmt(r["metrics"].get(k)) for k in COLUMNS) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/results18", help="eval folders (default %(default)s)")
    ap.add_argument("--run", action="store_true", help="compute missing rows (default: only collect)")
    ap.add_argument("--untrained-limit", type=int, default=100, help="questions per dataset for the untrained rows (0: skip them)")
    ap.add_argument("--trained-limit", type=int, default=1000, help="questions per dataset for the trained rows "
                    "(default: all)")
    ap.add_argument("--groups", default=None, help="comma-separated subset of trained,untrained,llm_free,"
                    "cross_encoder (default: all; cross_encoder needs runs/cross_encoder from setsel train-cross-encoder)")
    ap.add_argument("--json", help="write the JSON here")
    ap.add_argument("--markdown", action="store_true", help="print the Markdown table")
    args = ap.parse_args(argv)
    only = args.groups.split(",") if args.groups else None
    report = collect(args.out, args.untrained_limit, args.run, args.trained_limit, only)
    missing = {g: r["missing"] for g, r in report.items() if r["missing"]}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"benchmark": "trained_selectors", "groups": report,
                                               "missing": missing}, indent=2) + "\n")
    print(markdown(report) if args.markdown else json.dumps({"missing": missing}, indent=2))
    return 1 if missing or any(r["exit"] for r in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
