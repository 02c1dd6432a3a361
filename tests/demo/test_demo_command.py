"""`setsel demo` (the README's main job) on a slice of the demo set."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_runs_and_reports(tmp_path):
    script = Path(sys.executable).with_name("setsel")
    out = tmp_path / "demo"
    proc = subprocess.run([str(script), "demo", "--out", str(out), "--methods", "topk-3,setr-selection_only",
                           "--limit", "3"], capture_output=True, text=True, timeout=850)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"topk-3", "setr-selection_only"}
    assert summary["topk-3"]["n_queries"] == 3 and summary["topk-3"]["avg_selected"] == 3
    setr = summary["setr-selection_only"]
    assert setr["parse_failed_rate"] == 0.0 and setr["selector_completion_tokens"] > 0
    assert setr["em"] is not None  # answers were generated and scored
    report = (out / "report.md").read_text()
    assert "| topk-3 |" in report and (out / "summary.png").stat().st_size > 1000
    assert (out / "setr-selection_only" / "per_query.parquet").is_file()
    bad = subprocess.run([str(script), "demo", "--methods", "nope", "--out", str(out)], capture_output=True, text=True)
    assert bad.returncode == 2
