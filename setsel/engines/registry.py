"""Model ids → engines, keyed by scheme (no if/elif chain).

``hf:<folder | file.gguf | hub-id | smollm2-135m>``, ``vllm:<folder | smollm2-135m>``,
``openai:<model>@<base_url>``. Loaders import their backend lazily, so importing
``setsel.engines`` never imports torch, transformers or vllm.

Example:
    engine = load_engine("hf:smollm2-135m", batch_size=4)
"""

from __future__ import annotations

import importlib
from typing import Any

DEFAULT_MODEL = "hf:smollm2-135m"

# scheme -> (module, class); the class takes (rest_of_id, **options)
ENGINES: dict[str, tuple[str, str]] = {
    "hf": ("setsel.engines.hf", "HFEngine"),
    "vllm": ("setsel.engines.vllm", "VLLMEngine"),
    "openai": ("setsel.engines.openai_engine", "OpenAIEngine"),
}


def register_engine(scheme: str, module: str, cls: str) -> None:
    """Add a backend: ``register_engine("myserver", "my_pkg.engine", "MyEngine")``."""
    ENGINES[scheme] = (module, cls)


def parse_model_id(model_id: str) -> tuple[str, str]:
    scheme, sep, rest = str(model_id).partition(":")
    if not sep or not rest:
        raise ValueError(f"model id {model_id!r} must look like <scheme>:<model>; schemes: {sorted(ENGINES)}")
    if scheme not in ENGINES:
        raise ValueError(f"unknown engine scheme {scheme!r} in {model_id!r}; schemes: {sorted(ENGINES)}")
    return scheme, rest


def load_engine(model_id: str = DEFAULT_MODEL, **options: Any):
    """Build the engine for ``model_id`` with backend ``options`` (batch_size, adapter, …)."""
    scheme, rest = parse_model_id(model_id)
    module_name, cls_name = ENGINES[scheme]
    module = importlib.import_module(module_name)
    return getattr(module, cls_name)(rest, **options)
