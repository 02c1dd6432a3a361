"""transformers engine: CPU or GPU, left-padded batches, the model's real chat template.

``HFEngine("smollm2-135m")`` loads the embedded SmolLM2 (converted once from its GGUF to a
safetensors folder, then < 1 s per load); a local folder, a ``.gguf`` file or (only when
``HF_HUB_OFFLINE`` is unset) a hub id work too. ``adapter=`` puts a peft LoRA adapter on top.

Decoding:
- prompts × ``n`` samples are flattened into rows in token order and cut into batches of at
  most ``batch_size`` rows and ``batch_tokens`` padded tokens; in a batch each distinct
  prompt is prefilled once, unpadded, reusing the cache of a shared prefix (a prompt's
  ``n`` samples, prompts over one pool), and the rows decode together, left-padded
  (:mod:`setsel.engines.prefill`);
- weights load in bf16 where the hardware has native bf16 matmuls, else fp32 (``dtype``);
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
    token_texts,
    validate_continuations,
    validate_prompts,
)
from setsel.engines.models import resolve_model, with_shipped_adapter
from setsel.engines.sampling import make_sampler, row_seed
from setsel.hardware import ENGINE_DTYPES as DTYPES
from setsel.hardware import resolve_dtype
from setsel.types import Completion, GenerationParams, Message, Scored


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
        model: ``smollm2-135m`` (embedded), a name in ``SHIPPED_ADAPTERS`` (a base + its
            shipped adapter), a model folder, a ``.gguf`` file, or a hub id.
        batch_size: rows (prompt × sample) decoded together, and pairs per ``score`` forward.
        batch_tokens: at most this many padded tokens (rows × widest prompt, plus new tokens
            when generating) in one batch, so long prompts batch fewer rows (KV-cache memory).
        min_shared: prompts sharing at least this many leading tokens share one prefill.
        adapter: a peft adapter folder (LoRA) loaded on top of the model.
        dtype: ``auto`` (bf16 where the hardware has native bf16 matmuls — CUDA, or a CPU
            with avx512_bf16/AMX, :func:`setsel.hardware.preferred_dtype` — else fp32),
            ``float32``, ``bfloat16``, ``float16``. The embedded model's converted copy is
            cached per dtype.
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
        batch_tokens: int = 32768,
        min_shared: int = 32,
        adapter: str | None = None,
        dtype: str = "auto",
        device: str | None = None,
        max_context: int | None = None,
        num_threads: int | None = None,
        merge_adapter: bool = True,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int ≥ 1, got {batch_size!r}")
        for name, value in (("batch_tokens", batch_tokens), ("min_shared", min_shared)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int ≥ 1, got {value!r}")
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
        self.batch_size, self.batch_tokens, self.min_shared = batch_size, batch_tokens, min_shared
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = resolve_dtype(dtype, self.device)
        path = resolve_model(model, dtype=self.dtype)
        torch_dtype = getattr(torch, self.dtype)
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
        ids = [self.encode(t) for t in texts]
        check_lengths([len(x) for x in ids], params.max_tokens, self.max_context)
        # Rows (prompt × sample) in token order: a prompt's samples, and prompts sharing a
        # prefix (one pool, several queries), sit side by side and share one prefill.
        # Results do not depend on batch composition (greedy, or per-row seeded sampling).
        rows = sorted(((i, j) for i in range(len(texts)) for j in range(params.n)), key=lambda r: (ids[r[0]], r[1]))
        seed = params.seed if params.seed is not None else int.from_bytes(os.urandom(7), "little")
        out: list[list[Completion | None]] = [[None] * params.n for _ in texts]
        carry: dict[tuple[int, ...], list] = {}
        for chunk in self._batches(rows, [len(x) + params.max_tokens for x in ids]):
            seeds = [row_seed(seed, texts[i], j) for i, j in chunk]
            for (i, j), completion in zip(chunk, self._run([ids[i] for i, _ in chunk], seeds, params, carry)):
                out[i][j] = completion
        return out  # type: ignore[return-value]

    def _batches(self, rows: list[tuple[int, int]], widths: list[int]) -> list[list[tuple[int, int]]]:
        """Consecutive ``rows`` cut at ``batch_size`` rows or ``batch_tokens`` padded tokens
        (rows × the widest row's prompt + new tokens), whichever comes first; one row at least."""
        batches: list[list[tuple[int, int]]] = []
        current: list[tuple[int, int]] = []
        widest = 0
        for row in rows:
            w = max(widest, widths[row[0]])
            if current and (len(current) + 1 > self.batch_size or (len(current) + 1) * w > self.batch_tokens):
                batches.append(current)
                current, w = [], widths[row[0]]
            current.append(row)
            widest = w
        if current:
            batches.append(current)
        return batches

    def _run(self, prompts: list[list[int]], seeds: list[int], params: GenerationParams,
             carry: dict[tuple[int, ...], list] | None = None) -> list[Completion]:
        """One ``model.generate`` over ``prompts`` (token ids, one row each).

        Each distinct prompt is prefilled once, unpadded, reusing a shared prefix of its
        neighbour (:mod:`setsel.engines.prefill`); the rows then decode as one left-padded
        batch. ``carry`` keeps the last prefilled prompt's cache for the next batch.
        """
        import torch

        from setsel.engines.prefill import prefill, stack_caches

        pad = self.tokenizer.pad_token_id
        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for r, p in enumerate(prompts):
            input_ids[r, width - len(p) :] = torch.tensor(p)
            mask[r, width - len(p) :] = 1
        kwargs: dict[str, Any] = {}
        if min(len(p) for p in prompts) >= 2:
            carry = {} if carry is None else carry
            distinct = list(dict.fromkeys(tuple(p) for p in prompts))
            everything = list(dict.fromkeys(list(carry) + distinct))  # the carried prompt may recur
            caches = prefill(self.model, everything, self.min_shared, self.device,
                             known={k: carry[p] for k, p in enumerate(everything) if p in carry})
            by_prompt = {p: caches[k] for k, p in enumerate(everything)}
            kwargs["past_key_values"] = stack_caches(self.model, [by_prompt[tuple(p)] for p in prompts],
                                                     [len(p) - 1 for p in prompts])
            carry.clear()
            carry[max(distinct)] = by_prompt[max(distinct)]
        processors = []
        if params.constraint is not None:
            from setsel.engines.constraints import compile_constraint, make_grammar_processor

            compiled = compile_constraint(self.tokenizer, self.vocab_size, params.constraint)
            processors.append(make_grammar_processor(compiled, self.end_ids))
        if params.temperature > 0:
            processors.append(make_sampler(seeds, params.temperature, params.top_p))
        kwargs.update({
            "max_new_tokens": params.max_tokens,
            "do_sample": False,  # sampling, when asked, is SeededSampler's job
            "temperature": None,
            "top_p": None,
            "top_k": None,
            "pad_token_id": pad,
            "eos_token_id": sorted(self.end_ids),
            "logits_processor": processors,
        })
        if params.stop:
            kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)
        results = []
        for row, p in enumerate(prompts):
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
            results.append(Completion(text, len(p), n_new, reason))
        return results

    # ------------------------------------------------------------------ score
    def score(self, prompts: list[list[Message]], continuations: list[str]) -> list[Scored]:
        """Log-probs of each continuation's tokens as the assistant reply to its prompt.

        The continuation is tokenized on its own and appended to the templated prompt
        (generation prompt included); pairs are sorted by length and cut into batches by
        ``batch_size`` and ``batch_tokens``, left-padded with position ids from the mask, so
        positions are exact; logits are computed only where a continuation token is predicted
        (``logits_to_keep``), not over the prompt (the vocabulary projection of a 1,000-token
        prompt costs a fifth of the body's FLOPs and ~200 MB per row).
        """
        import torch

        prompts = validate_prompts(prompts)
        continuations = validate_continuations(prompts, continuations)
        self._check_open()
        pairs = [(self.encode(self.chat_text(p)), self.encode(c)) for p, c in zip(prompts, continuations)]
        check_lengths([len(a) + len(b) for a, b in pairs], 0, self.max_context)
        results: list[Scored | None] = [None] * len(pairs)
        pad = self.tokenizer.pad_token_id
        order = sorted(range(len(pairs)), key=lambda k: -(len(pairs[k][0]) + len(pairs[k][1])))
        widths = [len(a) + len(b) for a, b in pairs]
        for batch in self._batches([(k, 0) for k in order], widths):
            chunk = [pairs[k] for k, _ in batch]
            keep = max(len(b) for _, b in chunk) + 1  # logits only where a continuation token is predicted
            if keep == 1:
                for k, _ in batch:
                    results[k] = Scored([], [])
                continue
            width = max(len(a) + len(b) for a, b in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (a, b) in enumerate(chunk):  # left-padded: every continuation ends at the last column
                ids[row, width - len(a) - len(b) :] = torch.tensor(a + b)
                mask[row, width - len(a) - len(b) :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                    position_ids=positions.to(self.device), logits_to_keep=keep).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()  # (rows, keep, vocab)
            for row, ((k, _), (a, b)) in enumerate(zip(batch, chunk)):
                # token j of the continuation sits at column width-len(b)+j, predicted by the column before
                at = torch.arange(keep - len(b) - 1, keep - 1)
                values = logprobs[row, at, torch.tensor(b, dtype=torch.long)].tolist() if b else []
                results[k] = Scored(values, token_texts(self.tokenizer, b))
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ lifecycle
    def _check_open(self) -> None:
        if self.model is None:
            raise EngineError(f"{self.model_id}: the engine was closed")

    def close(self) -> None:
        """Drop the model (frees its memory once no one else holds it)."""
        self.model = None  # type: ignore[assignment]
