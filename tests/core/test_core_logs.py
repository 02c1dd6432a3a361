"""setsel.logs: library logs to a file, setsel's own lines and warnings on the terminal."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = r"""
import logging, sys, warnings
from setsel.logs import log_to_file
path = log_to_file(sys.argv[1])
logging.getLogger("transformers.modeling_utils").info("library info line")
logging.getLogger("ray.data").info("ray data info line")
logging.getLogger("setsel.training.head").info("own info line")
logging.getLogger("urllib3").warning("library warning line")
warnings.warn("a python warning")
warnings.warn("an old api", FutureWarning)
import os
print("printed result line", os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS"))
"""


def _run(tmp_path, *env):
    import os

    log = tmp_path / "run" / "setsel.log"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(log)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "SETSEL_VERBOSE": "0", **dict(env)})
    assert proc.returncode == 0, proc.stderr
    return proc, log.read_text()


def test_library_lines_go_to_the_file_own_lines_and_warnings_to_the_terminal(tmp_path):
    proc, text = _run(tmp_path)
    terminal = proc.stdout + proc.stderr
    assert "printed result line 1" in proc.stdout      # model loading/saving bars off (this process and Ray's)
    assert "an old api" not in terminal and "an old api" in text  # deprecation notices: file only
    assert "own info line" in terminal and "library warning line" in terminal
    assert "library info line" not in terminal and "ray data info line" not in terminal
    assert "py.warnings: " in proc.stderr  # warnings are logged (a WARNING: shown, and kept in the file)
    for line in ("library info line", "ray data info line", "own info line", "library warning line",
                 "a python warning"):
        assert line in text, line


def test_verbose_keeps_library_lines_on_the_terminal(tmp_path):
    proc, text = _run(tmp_path, ("SETSEL_VERBOSE", "1"))
    assert "library info line" in proc.stderr and "library info line" in text
    assert "an old api" in proc.stderr


def test_own_or_warning_filter():
    import logging

    from setsel.logs import own_or_warning

    rec = lambda name, level: logging.makeLogRecord({"name": name, "levelno": level})  # noqa: E731
    assert own_or_warning(rec("setsel", logging.INFO)) and own_or_warning(rec("setsel.x", logging.INFO))
    assert not own_or_warning(rec("setselx", logging.INFO)) and not own_or_warning(rec("ray", logging.INFO))
    assert own_or_warning(rec("ray", logging.WARNING)) and own_or_warning(rec("torch", logging.ERROR))


RAY_ERRORS_SCRIPT = r"""
import sys
from setsel.logs import log_to_file, quiet_library_loggers
log_to_file(sys.argv[1])
from ray._private import worker as ray_worker
from setsel.distributed.runtime import route_driver_errors_to_log
quiet_library_loggers()                      # what init_ray does in quiet mode, before routing
assert route_driver_errors_to_log() and route_driver_errors_to_log()   # idempotent
ray_worker.print_to_stdstream({"lines": ["Task ServeController.graceful_shutdown failed. The actor is dead."],
                               "pid": "raylet", "is_err": False}, ignore_prefix=False)
ray_worker.print_to_stdstream({"lines": ["a worker's own line"], "pid": 4242, "ip": "127.0.0.1", "is_err": False,
                               "task_name": "w", "actor_name": ""}, ignore_prefix=False)
"""


def test_ray_driver_error_messages_go_to_the_log_not_the_terminal(tmp_path):
    """Ray's error listener prints pushed errors as ``(raylet) ...`` whatever ``log_to_driver`` says
    (Serve's shutdown pushes one on every run); in quiet mode they go to the log file."""
    pytest.importorskip("ray")
    log = tmp_path / "setsel.log"
    proc = subprocess.run([sys.executable, "-c", RAY_ERRORS_SCRIPT, str(log)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "graceful_shutdown" not in proc.stdout + proc.stderr
    assert "a worker's own line" in proc.stdout          # worker output, when forwarded, still prints
    assert "ray.driver_errors: Task ServeController.graceful_shutdown failed" in log.read_text()
