"""Tiny random models for tests (offline, seconds to build)."""


def save_tiny_llama(out, tokenizer, *, hidden_size=64, max_position_embeddings=4096, seed=0, **config):
    """Save a randomly initialised 2-layer Llama with ``tokenizer`` (its vocab, BOS/EOS) as an HF folder.

    ``intermediate_size`` is ``2 * hidden_size``; 4 attention heads, 2 KV heads, tied embeddings.
    ``config`` adds or overrides :class:`~transformers.LlamaConfig` fields (e.g. ``pad_token_id``,
    ``initializer_range``). Weights come from ``torch.manual_seed(seed)``. Returns ``out``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(**{
        "vocab_size": len(tokenizer), "hidden_size": hidden_size, "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": max_position_embeddings, "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id, "tie_word_embeddings": True, **config,
    })
    LlamaForCausalLM(cfg).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def smol_tokenizer():
    """SmolLM2-135M's tokenizer (ChatML template), from the embedded model."""
    from transformers import AutoTokenizer

    from setsel.engines.models import resolve_model

    return AutoTokenizer.from_pretrained(str(resolve_model("smollm2-135m")))
