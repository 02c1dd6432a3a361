"""The light modules and the CLI's --help must not import heavy libraries."""

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["torch", "ray", "vllm", "faiss", "transformers", "tensorflow", "bm25s", "sentence_transformers"]
LIGHT = ["setsel", "setsel.types", "setsel.text", "setsel.prompts", "setsel.config", "setsel.io", "setsel.paths",
         "setsel.cli", "setsel.datasets.demo", "setsel.synthesis.preference", "setsel.synthesis.sets"]


def test_light_imports_pull_nothing_heavy():
    code = (
        "import sys, json\n"
        + "".join(f"import {m}\n" for m in LIGHT)
        + "from setsel.prompts import render, parse_selection\n"
        + "render('setr_iri', question='q', passages=[{'title': 't', 'text': 'x'}])\n"
        + f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_cli_help_is_light():
    code = (
        "import sys, json, contextlib, io\n"
        "from setsel.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _console_script() -> str:
    script = Path(sys.executable).with_name("setsel")
    assert script.exists(), f"console script not installed next to {sys.executable}"
    return str(script)


def test_console_script_help_and_version():
    from setsel import __version__

    help_out = subprocess.run([_console_script(), "--help"], capture_output=True, text=True, timeout=60)
    assert help_out.returncode == 0 and "COMMAND" in help_out.stdout and "version" in help_out.stdout
    ver = subprocess.run([_console_script(), "version"], capture_output=True, text=True, timeout=60)
    assert ver.returncode == 0 and ver.stdout.strip() == f"setsel {__version__}"
    bad = subprocess.run([_console_script(), "no-such-command"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
