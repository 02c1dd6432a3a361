"""Model side of training: load the base (+ LoRA through peft), export adapters and merged weights.

Outputs are plain Hugging Face formats: an adapter folder (``adapter_config.json`` +
``adapter_model.safetensors``) that ``setsel.engines.load_engine("hf:<base>", adapter=dir)``
loads and vLLM serves through ``LoRARequest(name, id, dir)``; a merged model folder
(``config.json`` + safetensors + tokenizer) that any engine loads as a base model.

Example:
    tok, model = load_for_training("hf:smollm2-135m", LoraSettings(r=8), dtype="fp32")
    ...train...
    model.save_pretrained("runs/x/adapter")
    merge_adapter("hf:smollm2-135m", "runs/x/adapter", "runs/x/merged")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setsel.training.config import LoraSettings


def resolve_base(model: str) -> str:
    """A model reference → a local HF folder: the same ids as the engines (``hf:smollm2-135m``,
    ``hf:<folder|.gguf>``; the bare form without ``hf:`` is accepted too). Training runs in
    transformers, so ``vllm:`` / ``openai:`` ids are refused with a clear error."""
    from setsel.config import ConfigError
    from setsel.engines.models import resolve_model

    scheme, sep, rest = str(model).partition(":")
    if sep and scheme in ("vllm", "openai"):
        raise ConfigError(f"training needs a local model (hf:<name|folder|.gguf>), got {model!r}")
    return str(resolve_model(rest if sep and scheme == "hf" else model))


def _torch_dtype(dtype: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype]


def load_tokenizer(base: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def lora_config(settings: LoraSettings):
    """The peft ``LoraConfig`` for ``settings`` (``["all-linear"]`` → peft's ``"all-linear"``)."""
    from peft import LoraConfig

    modules: Any = list(settings.target_modules)
    if modules == ["all-linear"]:
        modules = "all-linear"
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules=modules, bias="none", task_type="CAUSAL_LM")


def load_for_training(
    model: str,
    lora: LoraSettings,
    dtype: str = "fp32",
    gradient_checkpointing: bool = False,
) -> tuple[Any, Any]:
    """``(tokenizer, model)``: the base in ``dtype``, wrapped in LoRA when ``lora.enabled``.

    With LoRA only the adapter weights require gradients; without, every weight does.
    """
    from transformers import AutoModelForCausalLM

    base = resolve_base(model)
    tok = load_tokenizer(base)
    net = AutoModelForCausalLM.from_pretrained(base, dtype=_torch_dtype(dtype))
    net.config.use_cache = False
    if gradient_checkpointing:
        net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if lora.enabled:
            net.enable_input_require_grads()
    if lora.enabled:
        from peft import get_peft_model

        net = get_peft_model(net, lora_config(lora))
    return tok, net


def trainable_state(model: Any) -> dict[str, Any]:
    """The parameters that train (names as in ``named_parameters``), detached CPU copies."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: Any, state: dict[str, Any]) -> None:
    """Copy ``state`` into the trainable parameters; names must match exactly."""
    import torch

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
    if missing or unexpected:
        raise ValueError(f"checkpoint does not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(state[n].to(p.dtype))


def save_adapter(model: Any, folder: str | Path, tokenizer: Any | None = None) -> Path:
    """``save_pretrained`` the peft adapter (or the whole model when not LoRA) to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder), safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(str(folder))
    return folder


def merge_adapter(base_model: str, adapter: str | Path, out: str | Path, dtype: str = "fp32") -> Path:
    """Load ``base_model`` + ``adapter``, fold the LoRA weights in, save a plain HF model folder."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = resolve_base(base_model)
    net = AutoModelForCausalLM.from_pretrained(base, dtype=_torch_dtype(dtype))
    merged = PeftModel.from_pretrained(net, str(adapter)).merge_and_unload()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out), safe_serialization=True)
    load_tokenizer(base).save_pretrained(str(out))
    return out


def export_adapter(adapter: str | Path, out: str | Path, dtype: str = "bf16") -> Path:
    """Copy a peft adapter folder to ``out`` with its weights cast to ``dtype`` (what ships in a repo).

    Writes ``adapter_config.json`` and ``adapter_model.safetensors`` only (a model card already
    in ``out`` is kept). bf16 halves the size (r=16 on every SmolLM2-135M linear layer: 19.5 MB
    fp32 → 9.8 MB); engines load it into their own dtype, so outputs change only by the
    rounding of the LoRA weights.
    """
    import shutil

    from safetensors.torch import load_file, save_file

    adapter, out = Path(adapter), Path(out)
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter}: no adapter_config.json (not a peft adapter folder)")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(adapter / "adapter_config.json", out / "adapter_config.json")
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    target = _torch_dtype(dtype)
    save_file({k: v.to(target).contiguous() for k, v in tensors.items()}, str(out / "adapter_model.safetensors"),
              metadata={"format": "pt"})
    return out
