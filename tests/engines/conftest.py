"""Engine test fixtures, built once per session to keep the suite fast.

- ``smol_dir``: the embedded SmolLM2 converted to safetensors (``ensure_safetensors``, cached
  under ``$SETSEL_CACHE_DIR``: ~16 s the first time on a machine, then instant).
- ``smol_engine``: one loaded SmolLM2 hf engine shared by the slow tests.
- ``tiny_model_dir`` / ``tiny_engine``: a randomly initialised 2-layer Llama (hidden 32)
  with SmolLM2's tokenizer and chat template, saved to a temporary folder. Offline.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smol_dir():
    from setsel.engines.models import embedded_gguf, ensure_safetensors

    return ensure_safetensors(embedded_gguf("smollm2-135m"))


@pytest.fixture(scope="session")
def smol_engine(smol_dir):
    from setsel.engines import load_engine

    engine = load_engine("hf:smollm2-135m", batch_size=8)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smol_dir):
    from transformers import AutoTokenizer

    from helpers.models import save_tiny_llama

    tok = AutoTokenizer.from_pretrained(str(smol_dir))
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), tok, hidden_size=32, max_position_embeddings=1024,
                           pad_token_id=tok.pad_token_id,
                           initializer_range=0.2)  # wide enough that greedy text varies by prompt


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir):
    from setsel.engines import load_engine

    # One thread: tiny matrices gain nothing from more, and on shared cores OpenMP spinning made
    # a 2-thread run 30x slower (torch threads are process-wide). fp32: these tests compare
    # scores with a manual forward and across engines to 1e-4, which bf16 rounding (the default
    # on a CPU with avx512_bf16) cannot meet; bf16 accuracy has its own test
    # (test_engines_hf_smollm2.py::test_bf16_scores_stay_within_tolerance_of_fp32).
    engine = load_engine(f"hf:{tiny_model_dir}", batch_size=4, num_threads=1, dtype="float32")
    yield engine
    engine.close()
