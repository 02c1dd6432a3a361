"""setsel.training.curves: metrics.jsonl rows in, a PNG out."""

import json

import pytest

from setsel.training.curves import main, plot_curves, read_metrics, smooth


def test_smooth_hand_values():
    assert smooth([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert smooth([4.0, 2.0, 6.0], 3) == [4.0, 3.0, 4.0]
    assert smooth([], 3) == []
    with pytest.raises(ValueError):
        smooth([1.0], 0)


def test_read_metrics_and_plot(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text("\n".join(json.dumps({"step": i, "loss": 10.0 / i}) for i in range(1, 6)) + "\n\n")
    rows = read_metrics(log)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5] and rows[1]["loss"] == 5.0
    assert read_metrics(tmp_path / "absent.jsonl") == []
    png = plot_curves({"setlist": rows, "sft": rows[:3], "empty": []}, tmp_path / "out" / "loss.png", window=2)
    assert png == tmp_path / "out" / "loss.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_curves({"setlist": rows}, tmp_path / "log.png", logy=True).is_file()
    assert plot_curves({"empty": []}, tmp_path / "none.png") is None and not (tmp_path / "none.png").exists()


def test_command_line(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.0}\n')
    assert main([str(tmp_path / "c.png"), f"setlist={run}", "--logy"]) == 0
    assert (tmp_path / "c.png").is_file()
    with pytest.raises(SystemExit) as err:
        main([str(tmp_path / "d.png"), f"sft={tmp_path / 'missing'}"])
    assert err.value.code == 2 and "RUN_DIR/metrics.jsonl" in capsys.readouterr().err
