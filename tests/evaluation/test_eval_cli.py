"""`setsel eval` end to end on real data, its input errors, and the Ray job against the local run."""

import json
from pathlib import Path

import pytest

from setsel.cli import main
from setsel.evaluation.runner import METRIC_KEYS

REPO = Path(__file__).resolve().parents[2]


def test_cli_writes_every_output(data_dir, tmp_path, capsys):
    out = tmp_path / "e"
    code = main(["eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
                 "--method", "topk", "--k", "5", "--out", str(out), "--no-progress"])
    assert code == 0
    assert {p.name for p in out.iterdir()} == {"metrics.json", "per_query.parquet", "report.md", "set_sizes.png",
                                               "topk_pr.png", "run.trec", "qrels.trec", "journal.jsonl"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == list(METRIC_KEYS)
    assert metrics["n_queries"] == 243 and metrics["method"] == "topk" and metrics["k"] == 5
    # every question has exactly 2 gold passages among ≤ 10: recall = hits / 2, precision = hits / |selected|
    assert 0 < metrics["set_recall"] < 1 and metrics["avg_selected"] <= 5
    assert "topk on hotpotqa-ircot: 243 questions" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--method", "topk", "--model", "hf:x"], "does not take option(s) ['model']"),
    (["--method", "nosuch"], "unknown selection method 'nosuch'"),
    (["--method", "topk", "--generator", "hf:smollm2-135m"], "generate is off"),
    (["--method", "topk", "--k", "0"], "k must be an int ≥ 1"),
    (["--method", "topk", "--data", "missing/dev.jsonl"], "no such file"),
])
def test_cli_bad_input_exits_2(tmp_path, capsys, argv, message):
    code = main(["eval", "--dataset", "musique", "--out", str(tmp_path / "x"), "--no-progress", *argv])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x" / "metrics.json").exists()


def test_cli_malformed_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "q", "question": "?", "passages": [{"id": "p"}]}\n')
    assert main(["eval", "--dataset", "jsonl", "--data", str(bad), "--method", "topk", "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert f"{bad}:1: field 'passages[0].text': missing" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ray_job_matches_local_run(ray_local, data_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    import jobs.evaluate as job
    from setsel.config import load_config
    from setsel.evaluation.job import EvalJobConfig, run_eval

    overrides = ["dataset=musique", f"data={data_dir / 'musique_migres200/dev.jsonl'}", "k=3", "limit=40",
                 "shuffle_candidates=5", "batch_size=6", "progress=false", "ray.num_actors=2"]
    ray_cfg = load_config(EvalJobConfig, REPO / "configs/eval.yaml", overrides + [f"out={tmp_path / 'ray'}"])
    local_cfg = load_config(EvalJobConfig, REPO / "configs/eval.yaml", overrides + [f"out={tmp_path / 'local'}"])
    ray_result, paths = job.run(ray_cfg)
    local_result, _ = run_eval(local_cfg)
    strip = [{k: v for k, v in r.metrics.items() if k != "wall_s"} for r in (ray_result, local_result)]
    assert strip[0] == strip[1] and strip[0]["n_queries"] == 40
    assert [r.selected_ids for r in ray_result.rows] == [r.selected_ids for r in local_result.rows]
    assert json.loads(paths["metrics"].read_text())["set_recall"] == local_result.metrics["set_recall"]
    assert "runner: `ray`" in paths["report"].read_text()
    # resumable like the local run: keep 10 finished questions, rerun, only the other 30 are computed
    journal = tmp_path / "ray" / "journal.jsonl"
    lines = journal.read_text().splitlines()
    assert len(lines) == 41
    journal.write_text("\n".join(lines[:11]) + "\n")
    again, _ = job.run(ray_cfg)
    keys = [json.loads(line)["key"] for line in journal.read_text().splitlines()[1:]]
    assert len(keys) == len(set(keys)) == 40
    assert [r.selected_ids for r in again.rows] == [r.selected_ids for r in local_result.rows]


def _eval_args(*argv):
    import argparse

    from setsel.commands import eval as eval_cmd

    parser = argparse.ArgumentParser()
    eval_cmd.add_arguments(parser)
    return eval_cmd.build_eval_config(parser.parse_args(list(argv)))


def test_eval_config_file_set_and_flags_in_that_order(tmp_path):
    cfg_file = tmp_path / "eval.yaml"
    cfg_file.write_text("dataset: musique\nmethod: topk\nk: 5\nbatch_size: 4\nselector_options: {fallback: empty}\n"
                        "ray: {num_actors: 3}\nout: runs/from_file\n")
    cfg = _eval_args("--config", str(cfg_file), "--set", "k=4", "--set", "limit=7", "--k", "3",
                     "--option", "max_words=50", "--no-progress")
    assert (cfg.dataset, cfg.method, cfg.k, cfg.limit, cfg.batch_size, cfg.out) == ("musique", "topk", 3, 7, 4,
                                                                                     "runs/from_file")
    assert cfg.selector_options == {"fallback": "empty", "max_words": 50} and cfg.ray.num_actors == 3
    assert cfg.progress is False and cfg.generate is False and cfg.overwrite is False
    # the repository's own configs/eval.yaml (the Ray job's file) loads the same way
    shipped = _eval_args("--config", str(REPO / "configs" / "eval.yaml"), "--set", "method=llm_head")
    assert shipped.method == "llm_head" and shipped.dataset == "hotpotqa-ircot"


def test_eval_without_config_names_the_missing_flags(tmp_path, capsys):
    assert main(["eval", "--method", "topk"]) == 2
    assert "required without --config: --dataset, --out" in capsys.readouterr().err


def test_eval_runs_from_the_shipped_config(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--config", str(REPO / "configs" / "eval.yaml"), "--set", "limit=5",
                 "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text())["n_queries"] == 5
