"""Resumable ``setsel eval``: a run killed with SIGKILL and rerun loses nothing, duplicates
nothing and gives the metrics of an uninterrupted run; other settings in the same folder are
refused; a torn journal line is skipped."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from setsel.cli import main
from setsel.evaluation.journal import Journal, JournalMismatch


def _eval_args(data_dir, out, *extra):
    return ["eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
            "--no-progress", "--out", str(out), *extra]


def _records(journal_path):
    return [json.loads(line) for line in journal_path.read_text().splitlines()[1:]]


@pytest.mark.timeout(60)
def test_journal_skips_a_torn_line_and_keeps_the_last_of_a_repeat(tmp_path):
    j = Journal(tmp_path / "j.jsonl", {"k": 1})
    j.append([{"key": "0:a", "selection": {}, "wall_s": 1}, {"key": "1:b", "selection": {}, "wall_s": 1}])
    with (tmp_path / "j.jsonl").open("a") as fh:
        fh.write('{"key": "2:c", "sel')  # killed mid-write
    again = Journal(tmp_path / "j.jsonl", {"k": 1})
    assert sorted(again.finished()) == ["0:a", "1:b"]
    again.append([{"key": "1:b", "selection": {"x": 1}, "wall_s": 2}, {"key": "2:c", "selection": {}, "wall_s": 1}])
    done = Journal(tmp_path / "j.jsonl", {"k": 1}).finished()
    assert sorted(done) == ["0:a", "1:b", "2:c"] and done["1:b"]["selection"] == {"x": 1}


@pytest.mark.timeout(120)
def test_other_settings_are_refused_unless_overwrite(tmp_path, data_dir, capsys):
    out = tmp_path / "e"
    assert main(_eval_args(data_dir, out, "--method", "topk", "--k", "2", "--limit", "6")) == 0
    first = json.loads((out / "metrics.json").read_text())
    # same command again: everything comes from the journal, same metrics
    assert main(_eval_args(data_dir, out, "--method", "topk", "--k", "2", "--limit", "6")) == 0
    assert {k: v for k, v in json.loads((out / "metrics.json").read_text()).items() if k != "wall_s"} == \
        {k: v for k, v in first.items() if k != "wall_s"}
    assert len(_records(out / "journal.jsonl")) == 6
    capsys.readouterr()
    assert main(_eval_args(data_dir, out, "--method", "topk", "--k", "3", "--limit", "6")) == 2
    err = capsys.readouterr().err
    assert "other settings (k)" in err and "--overwrite" in err
    with pytest.raises(JournalMismatch):
        Journal(out / "journal.jsonl", {"k": 3})
    assert main(_eval_args(data_dir, out, "--method", "topk", "--k", "3", "--limit", "6", "--overwrite")) == 0
    assert json.loads((out / "metrics.json").read_text())["avg_selected"] == 3.0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(tmp_path, data_dir):
    model = ["--method", "setr", "--variant", "selection_only", "--model", "hf:smollm2-135m", "--limit", "10",
             "--batch-size", "2", "--option", "max_words=30", "--option", "engine_options.num_threads=1",
             "--shuffle-candidates", "0"]
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "setsel.cli", *_eval_args(data_dir, killed, *model)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    journal = killed / "journal.jsonl"
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and len(_records(journal)) >= 4:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = {r["key"] for r in _records(journal)}
    assert 4 <= len(partial) < 10 and not (killed / "metrics.json").exists()

    assert main(_eval_args(data_dir, killed, *model)) == 0
    keys = [r["key"] for r in _records(journal)]
    assert len(keys) == len(set(keys)) == 10  # nothing recomputed twice, nothing lost
    assert main(_eval_args(data_dir, tmp_path / "whole", *model)) == 0

    def load(folder):
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics.pop("wall_s")
        import pyarrow.parquet as pq

        rows = pq.read_table(folder / "per_query.parquet").to_pylist()
        return metrics, [(r["query_id"], r["selected_ids"], r["raw_output"]) for r in rows]

    assert load(killed) == load(tmp_path / "whole")
