"""The light modules and the CLI's --help must not import heavy libraries (checked in fresh processes)."""

import json
import re
import subprocess
import sys
from pathlib import Path

HEAVY = ["torch", "ray", "vllm", "faiss", "transformers", "tensorflow", "bm25s", "sentence_transformers",
         "deepspeed", "peft"]
LIGHT = ["setsel", "setsel.types", "setsel.text", "setsel.prompts", "setsel.config", "setsel.io", "setsel.paths",
         "setsel.cli", "setsel.datasets.demo", "setsel.synthesis.preference", "setsel.synthesis.sets"]


def _heavy_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the heavy top-level modules it left in sys.modules."""
    probe = code + f"\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_probe_detects_a_heavy_import():
    # The probe reports what is in sys.modules (a stand-in module, so nothing heavy is loaded).
    assert _heavy_after("import sys, types\nsys.modules['ray'] = types.ModuleType('ray')") == ["ray"]
    assert _heavy_after("pass") == []


def test_light_imports_pull_nothing_heavy():
    code = "".join(f"import {m}\n" for m in LIGHT) + (
        "from setsel.prompts import render, parse_selection\n"
        "render('setr_iri', question='q', passages=[{'title': 't', 'text': 'x'}])\n"
        "from setsel.datasets.demo import load_demo\n"
        "load_demo()\n"
        "from setsel.io import write_records, read_records\n"  # io imports pyarrow lazily, never torch
    )
    assert _heavy_after(code) == []


def test_cli_main_help_is_light():
    code = (
        "import contextlib, io\n"
        "from setsel.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n        main(['--help'])\n    except SystemExit as exc:\n        assert exc.code == 0, exc.code\n"
        "assert 'COMMAND' in buf.getvalue(), buf.getvalue()\n"
    )
    assert _heavy_after(code) == []


def test_python_m_setsel_help_is_light():
    """``python -m setsel --help``: -X importtime lists every module the process imported."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "setsel", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "usage: setsel" in out.stdout
    imported = {m.group(1).strip().split(".")[0]
                for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|(.+)$", out.stderr, re.M)}
    assert "setsel" in imported and "argparse" in imported  # the importtime listing was read
    assert sorted(imported & set(HEAVY)) == []


def _console_script() -> str:
    script = Path(sys.executable).with_name("setsel")
    assert script.exists(), f"console script not installed next to {sys.executable} (pip install -e .)"
    return str(script)


def test_console_script_help_and_version():
    from setsel import __version__

    help_out = subprocess.run([_console_script(), "--help"], capture_output=True, text=True, timeout=60)
    assert help_out.returncode == 0, help_out.stderr
    assert help_out.stdout.startswith("usage: setsel") and "version" in help_out.stdout
    ver = subprocess.run([_console_script(), "version"], capture_output=True, text=True, timeout=60)
    assert ver.returncode == 0 and ver.stdout.strip() == f"setsel {__version__}"
    flag = subprocess.run([_console_script(), "--version"], capture_output=True, text=True, timeout=60)
    assert flag.returncode == 0 and flag.stdout.strip() == f"setsel {__version__}"
    bad = subprocess.run([_console_script(), "no-such-command"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
