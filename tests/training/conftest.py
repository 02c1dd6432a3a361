"""Training test fixtures: SmolLM2's tokenizer, a tiny random Llama, gold-proxy examples."""

from __future__ import annotations

import pytest

HOTPOT_TRAIN = "hotpotqa_train100_hipporag/train.jsonl"


@pytest.fixture(scope="session")
def smol_tokenizer():
    """SmolLM2-135M-Instruct's tokenizer (ChatML template), from the embedded GGUF."""
    from setsel.engines.models import resolve_model
    from setsel.training.model import load_tokenizer

    return load_tokenizer(str(resolve_model("smollm2-135m")))


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, smol_tokenizer):
    """A randomly initialised Llama (hidden 64, 2 layers) with SmolLM2's tokenizer, saved as HF."""
    from helpers.models import save_tiny_llama

    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), smol_tokenizer, hidden_size=64,
                           max_position_embeddings=2048)


@pytest.fixture(scope="session")
def gold_examples(data_dir):
    """Well-formed examples from real HotpotQA training rows (gold paragraphs = best set)."""
    from setsel.training.gold import hotpot_gold_examples

    return hotpot_gold_examples(data_dir / HOTPOT_TRAIN, n=16)


@pytest.fixture(scope="session")
def gold_train_file(tmp_path_factory, gold_examples):
    from setsel.io import write_records

    return write_records(tmp_path_factory.mktemp("train-data") / "train.jsonl", gold_examples)
