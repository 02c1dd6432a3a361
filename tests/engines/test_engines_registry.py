"""Engine registry and lazy imports."""

import json
import subprocess
import sys

import pytest

from setsel.engines import ENGINES, load_engine, parse_model_id


def test_parse_model_id():
    assert parse_model_id("hf:smollm2-135m") == ("hf", "smollm2-135m")
    assert parse_model_id("openai:gpt-4o@http://127.0.0.1:1/v1") == ("openai", "gpt-4o@http://127.0.0.1:1/v1")
    assert set(ENGINES) >= {"hf", "vllm", "openai"}
    for bad in ["smollm2", "hf:", "tgi:model"]:
        with pytest.raises(ValueError):
            parse_model_id(bad)


def test_openai_id_needs_base_url():
    with pytest.raises(ValueError, match="base_url"):
        load_engine("openai:gpt-4o")


def test_hub_id_offline_is_clear_error(monkeypatch):
    from setsel.engines.models import ModelNotFoundError, resolve_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE"):
        resolve_model("meta-llama/Llama-3.1-8B-Instruct")


def test_import_is_lazy():
    code = ("import sys, json, setsel.engines\n"
            "print(json.dumps([m for m in ('torch', 'transformers', 'vllm', 'openai') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip()) == []
