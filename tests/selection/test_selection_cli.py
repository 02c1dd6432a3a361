"""``setsel select``: candidates file in, Selection Parquet out."""

from __future__ import annotations

import pytest

from setsel.cli import main
from setsel.io import read_metadata, read_records, write_records
from setsel.types import Selection


@pytest.fixture
def cands_file(tmp_path, hotpot):
    return write_records(tmp_path / "cands.jsonl", hotpot[:3])


def test_selection_cli_topk_writes_selection_parquet(tmp_path, cands_file, hotpot, capsys):
    out = tmp_path / "topk.parquet"
    rc = main(["select", "--candidates", str(cands_file), "--method", "topk", "--k", "2", "--no-progress",
               "--out", str(out), "--trec-run", str(tmp_path / "sel.trec"), "--trec-qrels", str(tmp_path / "q.trec")])
    assert rc == 0
    sels = read_records(out, Selection)
    from setsel.evaluation.trec import read_run

    assert read_run(tmp_path / "sel.trec") == {c.query.id: c.ids[:2] for c in hotpot[:3]}
    assert (tmp_path / "q.trec").read_text().splitlines()[0] == f"{hotpot[0].query.id} 0 {hotpot[0].query.gold_passage_ids[0]} 1"
    assert [s.query_id for s in sels] == [c.query.id for c in hotpot[:3]]
    assert [s.selected_ids for s in sels] == [c.ids[:2] for c in hotpot[:3]]
    meta = read_metadata(out)
    assert meta["method"] == "topk" and meta["options"]["k"] == 2
    assert "3 selections, 0 failed parses" in capsys.readouterr().out


def test_selection_cli_bad_option_is_usage_error(tmp_path, cands_file, capsys):
    rc = main(["select", "--candidates", str(cands_file), "--method", "setr", "--variant", "nope",
               "--out", str(tmp_path / "x.parquet")])
    assert rc == 2 and "variant" in capsys.readouterr().err
    rc = main(["select", "--candidates", str(tmp_path / "missing.jsonl"), "--method", "topk",
               "--out", str(tmp_path / "x.parquet")])
    assert rc == 2


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_selection_cli_setr_with_the_real_model(tmp_path, cands_file, hotpot):
    out = tmp_path / "setr.parquet"
    rc = main(["select", "--candidates", str(cands_file), "--method", "setr", "--variant", "selection_only",
               "--model", "hf:smollm2-135m", "--max-passages", "2", "--shuffle-candidates", "1", "--limit", "2",
               "--batch-size", "2", "--option", "max_words=30", "--no-progress", "--out", str(out)])
    assert rc == 0
    sels = read_records(out, Selection)
    assert len(sels) == 2
    for c, s in zip(hotpot[:2], sels):
        assert s.method == "setr:selection_only" and 1 <= len(s.selected_ids) <= 2
        assert set(s.selected_ids) <= set(c.ids) and s.raw_output.startswith("### Final Selection:")
    assert read_metadata(out)["options"] == {"variant": "selection_only", "model": "hf:smollm2-135m",
                                             "max_passages": 2, "shuffle_seed": 1, "batch_size": 2, "max_words": 30}


def test_selection_cli_config_file_and_flag_override(tmp_path, cands_file, hotpot):
    cfg = tmp_path / "sel.yaml"
    cfg.write_text("method: topk\noptions:\n  k: 3\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["select", "--candidates", str(cands_file), "--config", str(cfg), "--no-progress",
                 "--out", str(out)]) == 0
    assert [len(s.selected_ids) for s in read_records(out, Selection)] == [3, 3, 3]
    assert main(["select", "--candidates", str(cands_file), "--config", str(cfg), "--k", "1", "--no-progress",
                 "--out", str(out), "--overwrite"]) == 0  # other settings into the same file: --overwrite
    assert [len(s.selected_ids) for s in read_records(out, Selection)] == [1, 1, 1]


def test_selection_shipped_select_configs_build_selectors():
    from pathlib import Path

    from setsel.commands.select import load_select_config
    from setsel.selection import get_selector

    files = sorted((Path(__file__).resolve().parents[2] / "configs").glob("select*.yaml"))
    assert len(files) >= 3
    for path in files:
        method, options = load_select_config(str(path))
        selector = get_selector(method, **options)  # builds and validates; loads no model
        assert selector.name == method


# ----------------------------------------------------------------------------- setsel eval --option
def test_selection_eval_option_reaches_the_selector(tmp_path, data_dir, capsys):
    import json

    base = ["eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
            "--limit", "3", "--no-progress"]
    rc = main([*base, "--method", "topk", "--option", "expand=false", "--out", str(tmp_path / "bad")])
    assert rc == 2 and "does not take option(s) ['expand']" in capsys.readouterr().err
    rc = main([*base, "--method", "topk", "--k", "2", "--option", "max_passages=1", "--out", str(tmp_path / "ok")])
    assert rc == 0
    metrics = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert metrics["avg_selected"] == 1.0  # the option, not --k, set the size
    assert read_metadata(tmp_path / "ok" / "per_query.parquet")["selector_options"] == {"max_passages": 1}


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_selection_eval_runs_an_optiset_ablation_with_the_real_model(tmp_path, data_dir):
    import json

    out = tmp_path / "noexp"
    rc = main(["eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
               "--method", "optiset", "--model", "hf:smollm2-135m", "--limit", "2", "--batch-size", "2",
               "--option", "expand=false", "--option", "reasoning_tokens=8", "--option", "max_words=25",
               "--option", "engine_options.num_threads=1", "--no-progress", "--out", str(out)])
    assert rc == 0
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "per_query.parquet").to_pylist()
    assert len(rows) == 2
    for row in rows:
        assert "[expand]" not in row["raw_output"] and "[refine]" in row["raw_output"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "optiset" and metrics["parse_failed_rate"] is not None
    assert metrics["selector_completion_tokens"] > 0


def test_selection_cli_resumes_from_its_journal_and_refuses_other_settings(tmp_path, cands_file, hotpot, capsys):
    out = tmp_path / "sel.parquet"
    args = ["select", "--candidates", str(cands_file), "--method", "topk", "--k", "2", "--no-progress",
            "--batch-size", "1", "--out", str(out)]
    assert main(args) == 0
    first = [s.selected_ids for s in read_records(out, Selection)]
    journal = tmp_path / "sel.parquet.journal.jsonl"
    lines = journal.read_text().splitlines()
    assert len(lines) == 4  # header + 3 questions
    # as if killed after the first question: the rerun computes only the other two
    journal.write_text("\n".join(lines[:2]) + "\n")
    out.unlink()
    assert main(args) == 0
    assert [s.selected_ids for s in read_records(out, Selection)] == first
    assert len(journal.read_text().splitlines()) == 4
    capsys.readouterr()
    k3 = ["select", "--candidates", str(cands_file), "--method", "topk", "--k", "3", "--no-progress", "--out", str(out)]
    assert main(k3) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*k3, "--overwrite"]) == 0
    assert [s.selected_ids for s in read_records(out, Selection)] == [c.ids[:3] for c in hotpot[:3]]
