"""Write an evaluation's outputs: metrics.json, per_query.parquet, report.md and PNG plots.

Files written into ``out_dir``:
- ``metrics.json``: the flat metrics (:data:`~setsel.evaluation.runner.METRIC_KEYS`, in
  that order; ``null`` where not applicable);
- ``per_query.parquet``: one row per question (:class:`~setsel.evaluation.runner.QueryResult`;
  list columns stored as JSON strings, as every setsel Parquet file);
- ``set_sizes.png``: histogram of selected-set sizes (the two plots need matplotlib; an
  environment without it, e.g. ``.venv-vllm``, writes everything else and says so in report.md);
- ``topk_pr.png``: precision and recall of the first k pool passages (k = 1..K), with the
  method's own (avg_selected, precision) and (avg_selected, recall) marked;
- ``report.md``: the metrics table, the run's settings, the conventions, the plots;
- ``run.trec`` / ``qrels.trec``: the selections as a TREC run (selection order) and the gold
  passages present in each pool as qrels (:mod:`setsel.evaluation.trec`): ``ir-measures``
  or ``trec_eval`` on them gives the ``mrr@10`` / ``ndcg@10`` of metrics.json.

Example:
    >>> paths = write_report(result, "runs/eval-topk", settings={"data": "dev.jsonl"})  # doctest: +SKIP
    >>> sorted(paths)                                                                  # doctest: +SKIP
    ['metrics', 'per_query', 'report', 'set_sizes_png', 'topk_pr_png', 'trec_qrels', 'trec_run']
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from setsel.evaluation.runner import EvalResult

CONVENTIONS = """\
- Retrieval metrics (set precision/recall/F1, hit, MRR@10, NDCG@10) are means over the
  questions with at least one gold passage in their pool. MRR/NDCG rank by the order of
  the selected list; `hit` = Hit@k (a gold passage among the first k selected).
- `coverage`: share of distinct gold evidence spans found in the selected passages
  (normalised, token-boundary substring), over questions with evidence.
- `novelty_jaccard`: Novel@all with Jaccard similarity of token sets (g1 = 1,
  g_i = 1 - max_{j<i} Sim); per-question Novel@2/@3 are in per_query.parquet.
- EM is non-strict (a normalised gold answer contained in the prediction as whole
  tokens); F1 is token F1 (max over golds); accuracy is MultiHop-RAG's (the normalised
  gold answer is a substring of the normalised prediction).
- `null`: not applicable (no LLM selector, no generation, no labels).
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _plots(result: EvalResult, out: Path) -> dict[str, Path]:
    try:
        import matplotlib
    except ImportError:
        return {}

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {}
    sizes = Counter(r.n_selected for r in result.rows)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    xs = list(range(min(sizes), max(sizes) + 1)) if sizes else [0]
    ax.bar(xs, [sizes.get(x, 0) for x in xs], color="#4C72B0")
    ax.set_xlabel("selected passages per question")
    ax.set_ylabel("questions")
    ax.set_title(f"{result.metrics['method']}: selected-set sizes")
    ax.set_xticks(xs)
    fig.tight_layout()
    paths["set_sizes_png"] = out / "set_sizes.png"
    fig.savefig(paths["set_sizes_png"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3.2))
    curve = result.topk_curve
    if curve:
        ks = [c["k"] for c in curve]
        ax.plot(ks, [c["precision"] for c in curve], "-o", ms=3, label="top-k precision", color="#4C72B0")
        ax.plot(ks, [c["recall"] for c in curve], "-o", ms=3, label="top-k recall", color="#DD8452")
    m = result.metrics
    if m["set_precision"] is not None and m["avg_selected"] is not None:
        ax.plot([m["avg_selected"]], [m["set_precision"]], "*", ms=13, color="#4C72B0",
                markeredgecolor="black", label=f"{m['method']} precision")
        ax.plot([m["avg_selected"]], [m["set_recall"]], "*", ms=13, color="#DD8452",
                markeredgecolor="black", label=f"{m['method']} recall")
    ax.set_xlabel("k (passages)")
    ax.set_ylim(0, 1.02)
    ax.set_title("precision / recall of the first k candidates")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    paths["topk_pr_png"] = out / "topk_pr.png"
    fig.savefig(paths["topk_pr_png"], dpi=110)
    plt.close(fig)
    return paths


def render_markdown(result: EvalResult, settings: dict[str, Any] | None = None, plots: bool = True) -> str:
    """The report.md text (metrics table, settings, conventions, plot links if ``plots``)."""
    m = result.metrics
    lines = [f"# setsel eval: {m['method']} on {m['dataset']}", "", "| metric | value |", "|---|---|"]
    lines += [f"| {key} | {_fmt(value)} |" for key, value in m.items()]
    if settings:
        lines += ["", "## Settings", ""] + [f"- {key}: `{value}`" for key, value in settings.items()]
    labelled = sum(r.gold_ids != [] for r in result.rows)
    lines += ["", f"{labelled} of {len(result.rows)} questions have a gold passage in their pool.", "",
              "## Conventions", "", CONVENTIONS, "## Plots", ""]
    if plots:
        lines += ["![selected-set sizes](set_sizes.png)", "", "![top-k precision/recall](topk_pr.png)", ""]
    else:
        lines += ["(not drawn: matplotlib is not installed in this environment)", ""]
    return "\n".join(lines)


def _trec(result: EvalResult, out: Path) -> dict[str, Path]:
    """run.trec and qrels.trec (skipped, with a warning in the log, when an id has whitespace)."""
    from setsel.evaluation.trec import write_qrels, write_run

    paths = {"trec_run": out / "run.trec", "trec_qrels": out / "qrels.trec"}
    try:
        write_run(paths["trec_run"], [(r.query_id, r.selected_ids, None) for r in result.rows])
        write_qrels(paths["trec_qrels"], [(r.query_id, r.gold_ids) for r in result.rows if r.gold_ids])
    except ValueError as exc:
        logging.getLogger(__name__).warning("TREC files not written: %s", exc)
        for path in paths.values():
            path.unlink(missing_ok=True)
        return {}
    return paths


def write_report(result: EvalResult, out_dir: str | Path, settings: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write every output file into ``out_dir`` (created); returns their paths by name."""
    from setsel.io import write_records

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "per_query": out / "per_query.parquet", "report": out / "report.md"}
    paths["metrics"].write_text(json.dumps(result.metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_records(paths["per_query"], result.rows, extra_metadata={"metrics": result.metrics, **(settings or {})})
    paths.update(_trec(result, out))
    plots = _plots(result, out)
    paths.update(plots)
    paths["report"].write_text(render_markdown(result, settings, plots=bool(plots)), encoding="utf-8")
    return paths
