"""transformers engine: CPU or GPU, left-padded batches, the model's real chat template.

``HFEngine("smollm2-135m")`` loads the embedded SmolLM2 (converted once from its GGUF to a
safetensors folder, then < 1 s per load); a local folder, a ``.gguf`` file or (only when
``HF_HUB_OFFLINE`` is unset) a hub id work too. ``adapter=`` puts a peft LoRA adapter on top.

Decoding:
- prompts × ``n`` samples are flattened into rows, sorted by length, and run
  ``batch_size`` rows per ``generate`` call, left-padded;
- greedy when ``temperature == 0``; otherwise each row draws from its own generator seeded
  by (``params.seed``, prompt, sample index) (:mod:`setsel.engines.sampling`), so a sample
  does not depend on the rest of the batch; ``seed=None`` draws a fresh seed per call;
- constraints use xgrammar, one matcher per row (:mod:`setsel.engines.constraints`);
- ``prefix`` is appended after the generation prompt, so the reply starts with it, and
  ``Completion.text`` includes it;
- stop strings end a row (transformers ``stop_strings``) and are cut from the text;
- a prompt that does not fit ``max_context - max_tokens`` raises ContextLengthError.

``stats`` counts model-forward time and tokens (prefill vs decode) for benchmarks.

Example:
    >>> eng = HFEngine("smollm2-135m", batch_size=4)                       # doctest: +SKIP
    >>> [[c]] = eng.generate([[{"role": "user", "content": "Hi"}]], GenerationParams(max_tokens=5))  # doctest: +SKIP
    >>> c.completion_tokens, c.finish_reason                              # doctest: +SKIP
    (5, 'length')
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setsel.engines.base import (
    EngineError,
    check_lengths,
    finish_text,
    validate_continuations,
    validate_prompts,
)
from setsel.engines.models import resolve_model, with_shipped_adapter
from setsel.engines.sampling import make_sampler, row_seed
from setsel.types import Completion, GenerationParams, Message, Scored

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class ForwardStats:
    """Time and tokens inside the model's forward, split into prefill and decode steps."""

    prefill_s: float = 0.0
    prefill_tokens: int = 0
    decode_s: float = 0.0
    decode_tokens: int = 0
    calls: int = 0

    @property
    def forward_s(self) -> float:
        return self.prefill_s + self.decode_s

    def reset(self) -> None:
        self.prefill_s = self.decode_s = 0.0
        self.prefill_tokens = self.decode_tokens = self.calls = 0


class HFEngine:
    """The :class:`~setsel.engines.base.LLMEngine` protocol over transformers.

    Args:
        model: ``smollm2-135m`` (embedded), ``smollm2-135m-setsel`` (the shipped trained
            selector: the embedded base + its adapter), a model folder, a ``.gguf`` file, or a hub id.
        batch_size: rows (prompt × sample) per forward batch.
        adapter: a peft adapter folder (LoRA) loaded on top of the model.
        dtype: ``auto`` (fp32 on CPU, bf16 on CUDA), ``float32``, ``bfloat16``, ``float16``.
        device: ``cpu`` / ``cuda[:i]``; default CUDA when available.
        max_context: override the model's ``max_position_embeddings``.
        num_threads: torch CPU threads (default: torch's own choice, one per core).
        merge_adapter: fold the adapter's LoRA weights into the model once at load (default;
            unmerged LoRA layers cost an extra pair of matmuls per linear layer per token).
    """

    def __init__(
        self,
        model: str = "smollm2-135m",
        batch_size: int = 8,
        adapter: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        max_context: int | None = None,
        num_threads: int | None = None,
        merge_adapter: bool = True,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int ≥ 1, got {batch_size!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if adapter is not None and not (Path(adapter) / "adapter_config.json").is_file():
            raise EngineError(f"adapter {adapter!r}: no adapter_config.json (expected a peft adapter folder)")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if num_threads:
            torch.set_num_threads(int(num_threads))
        self.model_id = f"hf:{model}" + (f"+{adapter}" if adapter else "")
        model, adapter = with_shipped_adapter(model, adapter)  # hf/vllm:smollm2-135m-setsel = base + adapter
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        path = resolve_model(model)
        torch_dtype = {
            "auto": torch.bfloat16 if self.device.startswith("cuda") else torch.float32,
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
        }[dtype]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path))
            self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch_dtype)
        except (OSError, ValueError) as exc:
            raise EngineError(f"could not load model {model!r} from {path}: {exc}") from None
        if adapter:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, adapter)
            if merge_adapter:  # fold LoRA into the weights: base-model speed, same outputs up to rounding
                self.model = self.model.merge_and_unload()
        self.model.to(self.device).eval()
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise EngineError(f"model {model!r} has no chat template; setsel sends chat prompts")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"
        config = self.model.config
        self.max_context = int(max_context or getattr(config, "max_position_embeddings", 2048))
        self.vocab_size = int(getattr(config, "vocab_size", len(self.tokenizer)))
        self.end_ids = self._end_ids()
        self.stats = ForwardStats()
        self._install_timer()

    # ------------------------------------------------------------------ setup
    def _end_ids(self) -> set[int]:
        ids = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        gen_eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids.update([gen_eos] if isinstance(gen_eos, int) else (gen_eos or []))
        return {int(i) for i in ids if i is not None}

    def _install_timer(self) -> None:
        """Forward hooks on the causal LM: time and token counts of every forward."""
        inner = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        started: list[float] = []

        def pre(_module, args, kwargs):
            started.append(time.perf_counter())

        def post(_module, args, kwargs, _output):
            elapsed = time.perf_counter() - started.pop()
            ids = kwargs.get("input_ids", args[0] if args else None)
            mask = kwargs.get("attention_mask")
            self.stats.calls += 1
            if ids is None:
                return
            if ids.shape[1] > 1:  # prefill (or a scoring pass)
                self.stats.prefill_s += elapsed
                self.stats.prefill_tokens += int(mask.sum()) if mask is not None else int(ids.numel())
            else:
                self.stats.decode_s += elapsed
                self.stats.decode_tokens += int(ids.shape[0])

        inner.register_forward_pre_hook(pre, with_kwargs=True)
        inner.register_forward_hook(post, with_kwargs=True)

    # ------------------------------------------------------------------ text
    def chat_text(self, messages: list[Message], prefix: str | None = None) -> str:
        """The templated prompt (with the generation prompt) followed by ``prefix``."""
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return text + (prefix or "")

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def count_tokens(self, text_or_messages: str | list[Message]) -> int:
        """Tokens of a string, or of a chat prompt after templating (with the generation prompt)."""
        if isinstance(text_or_messages, str):
            return len(self.encode(text_or_messages))
        [messages] = validate_prompts([text_or_messages])
        return len(self.encode(self.chat_text(messages)))

    # ------------------------------------------------------------------ generate
    def generate(self, prompts: list[list[Message]], params: GenerationParams) -> list[list[Completion]]:
        """``params.n`` completions per prompt (see the module docstring)."""
        if not isinstance(params, GenerationParams):
            raise TypeError(f"params must be GenerationParams, got {type(params).__name__}")
        prompts = validate_prompts(prompts)
        if not prompts:
            return []
        self._check_open()
        texts = [self.chat_text(p, params.prefix) for p in prompts]
        lengths = [len(self.encode(t)) for t in texts]
        check_lengths(lengths, params.max_tokens, self.max_context)
        # Longest first, so each batch holds similar lengths (less padding); stable, so a
        # prompt's samples stay in order. Results do not depend on batch composition.
        rows = sorted(((i, j) for i in range(len(texts)) for j in range(params.n)), key=lambda r: -lengths[r[0]])
        seed = params.seed if params.seed is not None else int.from_bytes(os.urandom(7), "little")
        out: list[list[Completion]] = [[] for _ in texts]
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start : start + self.batch_size]
            chunk_texts = [texts[i] for i, _ in chunk]
            seeds = [row_seed(seed, texts[i], j) for i, j in chunk]
            for (i, _), completion in zip(chunk, self._run(chunk_texts, seeds, params)):
                out[i].append(completion)
        return out

    def _run(self, texts: list[str], seeds: list[int], params: GenerationParams) -> list[Completion]:
        """One left-padded ``model.generate`` over ``texts`` (one row each)."""
        import torch

        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        processors = []
        if params.constraint is not None:
            from setsel.engines.constraints import compile_constraint, make_grammar_processor

            compiled = compile_constraint(self.tokenizer, self.vocab_size, params.constraint)
            processors.append(make_grammar_processor(compiled, self.end_ids))
        if params.temperature > 0:
            processors.append(make_sampler(seeds, params.temperature, params.top_p))
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "do_sample": False,  # sampling, when asked, is SeededSampler's job
            "temperature": None,
            "top_p": None,
            "top_k": None,
            "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": sorted(self.end_ids),
            "logits_processor": processors,
        }
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        width = enc["input_ids"].shape[1]
        results = []
        for row in range(len(texts)):
            n_prompt = int(enc["attention_mask"][row].sum())
            new = out[row, width:].tolist()
            n_new, ended = len(new), False
            for k, tok in enumerate(new):
                if tok in self.end_ids:
                    n_new, ended = k, True
                    break
            generated = self.tokenizer.decode(new[:n_new], skip_special_tokens=True)
            text, stopped = finish_text(params.prefix, generated, params.stop)
            # transformers ends a row on a stop string after the token that completes it
            hit_stop = stopped or (bool(params.stop) and n_new < params.max_tokens)
            reason = "stop" if (ended or hit_stop) else "length"
            results.append(Completion(text, n_prompt, n_new, reason))
        return results

    # ------------------------------------------------------------------ score
    def score(self, prompts: list[list[Message]], continuations: list[str]) -> list[Scored]:
        """Log-probs of each continuation's tokens as the assistant reply to its prompt.

        The continuation is tokenized on its own and appended to the templated prompt
        (generation prompt included); batches are right-padded, so positions are exact.
        """
        import torch

        prompts = validate_prompts(prompts)
        continuations = validate_continuations(prompts, continuations)
        self._check_open()
        pairs = [(self.encode(self.chat_text(p)), self.encode(c)) for p, c in zip(prompts, continuations)]
        check_lengths([len(a) + len(b) for a, b in pairs], 0, self.max_context)
        results: list[Scored] = []
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            width = max(len(a) + len(b) for a, b in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (a, b) in enumerate(chunk):
                ids[row, : len(a) + len(b)] = torch.tensor(a + b)
                mask[row, : len(a) + len(b)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, (a, b) in enumerate(chunk):
                positions = torch.arange(len(a) - 1, len(a) + len(b) - 1)
                values = logprobs[row, positions, torch.tensor(b, dtype=torch.long)].tolist() if b else []
                results.append(Scored(values, self.tokenizer.convert_ids_to_tokens(b)))
        return results

    # ------------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if self.model is None:
            raise EngineError(f"{self.model_id}: the engine was closed")

    def close(self) -> None:
        """Drop the model (frees its memory once no one else holds it)."""
        self.model = None  # type: ignore[assignment]
