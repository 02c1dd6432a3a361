"""Training curves: read ``metrics.jsonl`` rows and plot loss against optimizer step.

Every ``setsel train`` run writes ``<output_dir>/train_loss.png`` from its own
``metrics.jsonl``; :func:`plot_curves` also overlays several runs (the SFT / DPO / set-list-wise
comparison in docs/training.md).

Example:
    >>> rows = read_metrics("runs/train/smollm2_setlist/metrics.jsonl")   # doctest: +SKIP
    >>> plot_curves({"setlist": rows}, "loss.png")                        # doctest: +SKIP
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

LOSS_LABEL = {"setlist": "CE + λ·KL", "sft": "token CE", "dpo": "DPO"}


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a ``metrics.jsonl`` file (``[]`` when it does not exist); blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def truncate_metrics(path: str | Path, step: int) -> Path:
    """Keep only the rows of ``metrics.jsonl`` at ``path`` logged at or before ``step`` (creating
    the file and its folder if missing) and return the path: a run resuming from a checkpoint
    written at ``step`` redoes the later steps, so their old rows would otherwise appear twice.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = p.write_text('{"step": 5, "loss": 1.0}\\n{"step": 10, "loss": 0.5}\\n{"step": 15, "loss": 0.4}\\n')
    >>> [r["step"] for r in read_metrics(truncate_metrics(p, 10))]
    [5, 10]
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    kept = [r for r in rows if r.strip() and json.loads(r)["step"] <= step]
    path.write_text("".join(r + "\n" for r in kept), encoding="utf-8")
    return path


def smooth(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average: item i is the mean of ``values[max(0, i-window+1) : i+1]``.

    >>> smooth([1.0, 3.0, 5.0, 7.0], 2)
    [1.0, 2.0, 4.0, 6.0]
    """
    if window < 1:
        raise ValueError(f"window must be ≥ 1, got {window}")
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1): i + 1]
        out.append(sum(part) / len(part))
    return out


def plot_curves(runs: Mapping[str, Sequence[dict]], path: str | Path, title: str = "LoRA training on synthesised sets",
                window: int = 1, logy: bool = False) -> Path | None:
    """Plot ``loss`` per ``step`` for each named run (one line each) into a PNG at ``path``.

    ``window`` > 1 draws the trailing moving average over the raw points; ``logy`` puts the
    loss on a log scale (losses of different kinds differ by orders of magnitude). Returns the path,
    or ``None`` when no run has rows (nothing is written).
    """
    runs = {name: rows for name, rows in runs.items() if rows}
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for name, rows in runs.items():
        steps = [r.get("step", i + 1) for i, r in enumerate(rows)]
        loss = [float(r["loss"]) for r in rows]
        if window > 1:
            line, = ax.plot(steps, smooth(loss, window), label=f"{name} (mean of {window})")
            ax.plot(steps, loss, alpha=0.25, color=line.get_color())
        else:
            ax.plot(steps, loss, marker="o", markersize=3, label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss" + (" (log scale)" if logy else ""))
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    if len(runs) > 1 or window > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m setsel.training.curves OUT.png NAME=RUN_DIR ... [--window N] [--logy]``."""
    import argparse

    ap = argparse.ArgumentParser(description="Plot the loss curves of setsel train runs into one PNG.")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("runs", nargs="+", metavar="NAME=RUN_DIR", help="a label and a train output_dir (its metrics.jsonl)")
    ap.add_argument("--window", type=int, default=1, help="trailing moving average over N steps")
    ap.add_argument("--logy", action="store_true", help="log-scale loss axis")
    ap.add_argument("--title", default="LoRA training on synthesised sets")
    args = ap.parse_args(argv)
    runs = {}
    for spec in args.runs:
        name, sep, folder = spec.partition("=")
        if not sep or not (Path(folder) / "metrics.jsonl").is_file():
            ap.error(f"{spec!r}: want NAME=RUN_DIR with RUN_DIR/metrics.jsonl")
        runs[name] = read_metrics(Path(folder) / "metrics.jsonl")
    path = plot_curves(runs, args.out, title=args.title, window=args.window, logy=args.logy)
    print(path if path else "no rows: nothing written")
    return 0 if path else 1


if __name__ == "__main__":
    raise SystemExit(main())
