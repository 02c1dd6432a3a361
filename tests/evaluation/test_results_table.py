"""benchmarks/results_table.py: rows are exactly `setsel eval` runs, a rerun resumes, a shared engine is used."""

import importlib.util
import json
import shlex
from pathlib import Path

import pytest

from setsel.evaluation.job import EvalJobConfig, run_eval

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("results_table", REPO / "benchmarks" / "results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("row,label,adapter", [
    ("topk3", None, None), ("setr-iri", None, None), ("optiset-no_refine", None, None),
    ("setr-selection_only-unconstrained", None, None), ("setr-trained", None, None),
    ("setr-trained", "setlist", "/runs/a dir/adapter"), ("setr-trained", "merged", None), ("topk3", "x", "/a"),
    ("setr-trained30", "setsel", None), ("lexical2", None, None), ("ce-trained", None, None)])
def test_row_command_is_the_same_eval(table, row, label, adapter, tmp_path):
    """The printed command, parsed by `setsel eval`'s own parser, gives the same selector options."""
    import argparse

    from setsel.commands.eval import add_arguments
    from setsel.config import parse_overrides
    from setsel.evaluation.job import selector_options

    name, cfg, cmd = table.row_config("openret-musique", row, 0, 100, "vllm:smollm2-135m", 32, tmp_path, label, adapter)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(shlex.split(cmd)[2:])
    again = EvalJobConfig(dataset=args.dataset, data=args.data, method=args.method, variant=args.variant,
                          model=args.model, k=args.k, limit=args.limit, shuffle_candidates=args.shuffle_candidates,
                          batch_size=args.batch_size, selector_options=parse_overrides(args.option), out=args.out)
    assert selector_options(again) == selector_options(cfg)
    assert (again.dataset, again.data, again.limit, again.shuffle_candidates) == ("openret", "openret_bge/musique", 100, 0)
    suffix = f"+{label}" if label and table.uses_llm(row) else ""  # LLM-free rows ignore label and adapter
    assert name == f"{row}{suffix}-shuffled0" and cfg.out == str(tmp_path / "openret-musique" / name)
    assert selector_options(cfg).get("engine_options") == ({"adapter": adapter} if adapter and suffix else None)


def test_rows_match_eval_and_rerun_resumes(table, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    argv = ["--datasets", "musique", "--rows", "topk2,topk5", "--limit", "20", "--out", str(tmp_path / "r"),
            "--json", str(tmp_path / "t.json")]
    assert table.main(argv) == 0
    first = json.loads((tmp_path / "t.json").read_text())
    assert [r["row"] for r in first["rows"]] == ["topk2", "topk5"] and not any(r["resumed"] for r in first["rows"])
    direct, _ = run_eval(EvalJobConfig(dataset="musique", method="topk", k=5, limit=20, out=str(tmp_path / "d"),
                                       progress=False))
    got = first["rows"][1]["metrics"]
    for key in ("n_queries", "set_precision", "set_recall", "set_f1", "avg_selected"):
        assert got[key] == direct.metrics[key]
    stamp = (tmp_path / "r" / "musique" / "topk5" / "metrics.json").stat().st_mtime_ns
    assert table.main(argv) == 0      # rerun: read back, nothing recomputed
    second = json.loads((tmp_path / "t.json").read_text())
    assert all(r["resumed"] for r in second["rows"])
    assert [r["metrics"] for r in second["rows"]] == [r["metrics"] for r in first["rows"]]
    assert (tmp_path / "r" / "musique" / "topk5" / "metrics.json").stat().st_mtime_ns == stamp
    collect = argv[:-2] + ["--rows", "topk2,topk3,topk5", "--no-run", "--json", str(tmp_path / "c.json")]
    assert table.main(collect) == 0   # collects what exists, runs nothing
    got = json.loads((tmp_path / "c.json").read_text())
    assert [r["row"] for r in got["rows"]] == ["topk2", "topk5"] and got["missing"] == ["musique/topk3"]
    assert not (tmp_path / "r" / "musique" / "topk3").exists()
    assert table.main(["--rows", "nope"]) == 2
    assert "| musique | topk5 |" in capsys.readouterr().err


@pytest.mark.slow
def test_run_eval_uses_a_given_engine_and_leaves_it_open(data_dir, tmp_path):
    """A shared engine is used by LLM methods (not loaded again, not closed) and ignored by top-k."""
    from setsel.engines import load_engine

    class Counting:
        def __init__(self, inner):
            self.inner, self.calls, self.closed = inner, 0, False
            self.model_id, self.max_context = inner.model_id, inner.max_context

        def generate(self, prompts, params):
            self.calls += 1
            return self.inner.generate(prompts, params)

        def count_tokens(self, x):
            return self.inner.count_tokens(x)

        def close(self):
            self.closed = True

    inner = load_engine("hf:smollm2-135m", batch_size=4, num_threads=1)
    engine = Counting(inner)
    try:
        cfg = EvalJobConfig(dataset="musique", data=str(data_dir / "musique_migres200/dev.jsonl"), method="setr",
                            variant="selection_only", model="hf:smollm2-135m", k=3, limit=2, batch_size=2,
                            out=str(tmp_path / "s"), progress=False)
        result, _ = run_eval(cfg, engine=engine)
        assert engine.calls >= 1 and not engine.closed
        assert result.metrics["n_queries"] == 2 and result.metrics["parse_failed_rate"] == 0.0
        top, _ = run_eval(EvalJobConfig(dataset="musique", data=cfg.data, method="topk", k=3, limit=2,
                                        out=str(tmp_path / "t"), progress=False), engine=engine)
        assert top.metrics["avg_selected"] == 3.0
    finally:
        inner.close()


def test_merge_folds_the_adapter_once_and_names_the_merged_model(table, tmp_path, monkeypatch):
    import setsel.training.model as training_model

    adapter = tmp_path / "run" / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_model.safetensors").write_bytes(b"x")
    calls = []

    def fake_merge(base, adapter_dir, out):
        calls.append((base, Path(adapter_dir), Path(out)))
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "config.json").write_text("{}")
        return Path(out)

    monkeypatch.setattr(training_model, "merge_adapter", fake_merge)
    merged = tmp_path / "run" / "merged"
    assert table.merged_model("vllm:smollm2-135m", adapter) == f"vllm:{merged}"
    assert table.merged_model("smollm2-135m", adapter) == str(merged)
    assert calls == [("smollm2-135m", adapter, merged)]        # made once, then reused
    import os
    os.utime(adapter / "adapter_model.safetensors", (2e9, 2e9))  # a newer adapter: merged again
    table.merged_model("hf:smollm2-135m", adapter)
    assert len(calls) == 2


def test_a_finished_row_of_another_model_is_not_reused(table, tmp_path, capsys):
    row = tmp_path / "r" / "musique" / "setr-trained"
    row.mkdir(parents=True)
    (row / "metrics.json").write_text(json.dumps({"model": "vllm:smollm2-135m", "set_f1": 0.5}))
    argv = ["--datasets", "musique", "--rows", "setr-trained", "--no-run", "--out", str(tmp_path / "r")]
    assert table.main(argv) == 0                                    # same model: collected
    assert table.main(argv + ["--model", "vllm:/elsewhere/merged"]) == 2
    assert "holds a run of vllm:smollm2-135m" in capsys.readouterr().err
    assert table.main(["--merge", "--no-run", "--rows", "topk2"]) == 2  # --merge without --adapter
