import pytest


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory):
    """A randomly initialised 2-layer Llama with SmolLM2's tokenizer (fast, offline)."""
    from helpers.models import save_tiny_llama, smol_tokenizer

    return save_tiny_llama(tmp_path_factory.mktemp("tiny-lm"), smol_tokenizer(), hidden_size=32)
