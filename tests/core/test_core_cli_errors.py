"""Expected failures end with one line on stderr and a meaningful exit code, not a traceback
(``--debug`` brings the traceback back). Real CLI processes, a real closed port on 127.0.0.1."""

import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(180)


def _closed_port() -> int:
    with socket.socket() as s:  # bind, read the port, close: nothing listens there afterwards
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setsel(*args, env=None):
    return subprocess.run([sys.executable, "-m", "setsel.cli", *args], capture_output=True, text=True, timeout=150,
                          env=env)


def test_unreachable_engine_is_one_line_and_exit_1(tmp_path, data_dir):
    port = _closed_port()
    args = ["eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
            "--method", "setr", "--variant", "selection_only", "--model", f"openai:smol@http://127.0.0.1:{port}/v1",
            "--option", "engine_options.max_retries=1", "--option", "engine_options.backoff=0",
            "--option", "engine_options.timeout=5", "--limit", "2", "--no-progress", "--out", str(tmp_path / "e")]
    out = _setsel(*args)
    assert out.returncode == 1, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert "Traceback" not in out.stderr
    assert lines[-1].startswith("setsel eval: error: ") and f"127.0.0.1:{port}" in lines[-1]
    assert "--debug" in lines[-1]
    debug = _setsel(*args, "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "EngineError" in debug.stderr


def test_bad_selector_option_is_one_line_and_exit_2(tmp_path, data_dir):
    out = _setsel("eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
                  "--method", "topk", "--option", "k=-3", "--limit", "2", "--no-progress", "--out", str(tmp_path / "e"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("setsel eval: error: ")
