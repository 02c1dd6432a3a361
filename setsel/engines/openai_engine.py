"""Engine over any OpenAI-compatible server (vLLM, SGLang, TGI, hosted APIs).

Model id ``openai:<model>@<base_url>``, e.g. ``openai:gpt-4o@https://api.openai.com/v1`` or
``openai:Llama-3.1-8B-Instruct@http://127.0.0.1:8000/v1``. The API key comes from
``api_key=`` or ``$OPENAI_API_KEY`` (a placeholder is sent to local servers without auth).

- The prompts of a batch are sent concurrently, at most ``concurrency`` requests at a time.
- Each request is retried on 408/409/429/5xx, timeouts and connection errors, up to
  ``max_retries`` times, waiting ``backoff · 2^attempt`` seconds (capped at ``max_backoff``,
  25 % jitter) or the server's ``Retry-After``. ``timeout`` bounds each request.
  ``retries`` counts the retries made. Anything still failing, other 4xx answers and
  malformed responses (bad JSON, missing fields) raise :class:`EngineError` at once.
- Constraints (``constraint_style``): ``"structured_outputs"`` (vLLM ≥ 0.10:
  ``extra_body={"structured_outputs": {"regex": …}}``), ``"guided"`` (vLLM < 0.12:
  ``guided_regex``), ``"json_schema"`` (servers that only take JSON schemas: the selection
  is asked as ``{"selection": [ids]}``, a regex as ``{"text": "<matching string>"}``, and
  turned back into text), or ``"none"``. Whether the server honoured a regex constraint is
  checked on every finished reply (``re.fullmatch`` of the pattern sent); a reply that breaks
  it, or a 400/422 answer to a request carrying it, means the server ignores or refuses the
  field: the engine warns once (logger ``setsel.engines.openai_engine``), stops sending it,
  and counts every reply generated without its constraint in ``unconstrained_replies`` —
  the selection parser and the selector's fallback handle those replies, never silently.
- ``prefix``: sent as a final assistant message with ``continue_final_message`` (vLLM);
  the returned text is the prefix + the continuation.
- ``score``: ``completions`` with ``echo=True, logprobs=1, max_tokens=1`` over the
  chat-formatted prompt + continuation; the continuation's tokens are picked by text
  offset. Chat formatting needs the model's template: pass ``tokenizer=`` (a local HF
  folder, ``.gguf`` or ``smollm2-135m``). Without it, or where the server has no echo,
  :class:`NotSupportedError`. The tokenizer also gives exact ``count_tokens``, context
  checks and per-sample token counts when ``n > 1`` (servers report only the total; the
  text is re-tokenized); without it ``count_tokens`` is an over-estimate (characters / 3).

Example:
    >>> eng = load_engine("openai:tiny@http://127.0.0.1:8000/v1", concurrency=4)   # doctest: +SKIP
    >>> eng.generate([[{"role": "user", "content": "Hi"}]], GenerationParams(max_tokens=8))  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import random
import re
import threading
import time
from typing import Any

from setsel.engines.base import (
    EngineError,
    NotSupportedError,
    check_lengths,
    finish_text,
    validate_continuations,
    validate_prompts,
)
from setsel.engines.constraints import constraint_regex
from setsel.types import Completion, GenerationParams, Message, RegexConstraint, Scored, SelectionConstraint

STYLES = ("structured_outputs", "guided", "json_schema", "none")
RETRY_STATUS = {408, 409, 429}


def parse_openai_id(spec: str) -> tuple[str, str]:
    """``"<model>@<base_url>"`` → ``(model, base_url)``.

    >>> parse_openai_id("gpt-4o@https://api.openai.com/v1")
    ('gpt-4o', 'https://api.openai.com/v1')
    """
    model, sep, base_url = str(spec).rpartition("@")
    if not sep or not model or not base_url.startswith(("http://", "https://")):
        raise ValueError(f"openai model id must be openai:<model>@<base_url> (http[s]://…), got openai:{spec}")
    return model, base_url


def _breaks(constraint: RegexConstraint | SelectionConstraint, text: str, finish_reason: str) -> bool:
    """Whether a reply shows that its constraint was not applied: a finished reply that does
    not match the regex, or a cut one that already left the selection header.

    >>> c = SelectionConstraint(4, 2)
    >>> _breaks(c, "### Final Selection: [2]", "stop"), _breaks(c, "### Final Sel", "length"), _breaks(c, "Sure! [2]", "length")
    (False, False, True)
    """
    if finish_reason == "stop":
        return re.fullmatch(constraint_regex(constraint), text) is None
    if isinstance(constraint, SelectionConstraint):
        n = min(len(text), len(constraint.header))
        return text[:n] != constraint.header[:n]
    return False  # a cut reply under a general regex cannot be judged without a partial matcher


class OpenAIEngine:
    """The :class:`~setsel.engines.base.LLMEngine` protocol over an OpenAI-compatible HTTP API."""

    def __init__(
        self,
        spec: str,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        timeout: float = 120.0,
        constraint_style: str = "structured_outputs",
        tokenizer: str | None = None,
        max_context: int | None = None,
    ):
        self.model, self.base_url = parse_openai_id(spec)
        if constraint_style not in STYLES:
            raise ValueError(f"constraint_style must be one of {STYLES}, got {constraint_style!r}")
        for name, value in (("concurrency", concurrency), ("max_retries", max_retries)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "concurrency" else 0):
                raise ValueError(f"{name} must be an int ≥ {1 if name == 'concurrency' else 0}, got {value!r}")
        if not (timeout > 0 and backoff >= 0 and max_backoff >= 0):
            raise ValueError("timeout must be > 0 and backoff, max_backoff ≥ 0")
        import openai

        self._openai = openai
        self.model_id = f"openai:{spec}"
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.constraint_style = constraint_style
        self.retries = 0
        self.unconstrained_replies = 0
        self.constraint_disabled: str | None = None  # why the server's constraint support was given up
        self._count_lock = threading.Lock()
        # Retries are ours (observable, uniform over errors); the client makes one attempt.
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            max_retries=0,
            timeout=float(timeout),
        )
        self.tokenizer = None
        if tokenizer is not None:
            from transformers import AutoConfig, AutoTokenizer

            from setsel.engines.models import resolve_model

            folder = str(resolve_model(tokenizer))
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            if max_context is None:
                max_context = getattr(AutoConfig.from_pretrained(folder), "max_position_embeddings", None)
        # Without a tokenizer or an explicit value the server enforces its own limit.
        self.max_context = int(max_context or 8192)

    # ------------------------------------------------------------------ transport
    def _sleep_before_retry(self, attempt: int, exc: Exception) -> None:
        delay = min(self.backoff * 2**attempt, self.max_backoff) * (1 - 0.25 * random.random())
        response = getattr(exc, "response", None)
        header = response.headers.get("retry-after") if response is not None else None
        try:
            if header is not None and 0 <= float(header) <= 60:
                delay = float(header)
        except ValueError:
            pass
        with self._count_lock:
            self.retries += 1
        time.sleep(delay)

    def _request(self, fn, **kwargs) -> Any:
        """Call ``fn(**kwargs)`` with retries; every failure becomes an :class:`EngineError`."""
        errors = self._openai
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                return fn(**kwargs)
            except errors.APIStatusError as exc:
                code = exc.status_code
                if (code in RETRY_STATUS or code >= 500) and not last:
                    self._sleep_before_retry(attempt, exc)
                    continue
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise EngineError(f"{self.base_url}: HTTP {code}{tries}: {str(exc)[:300]}") from None
            except (errors.APITimeoutError, errors.APIConnectionError) as exc:
                if not last:
                    self._sleep_before_retry(attempt, exc)
                    continue
                raise EngineError(f"{self.base_url}: {type(exc).__name__} after {attempt + 1} attempts: {exc}") from None
            except (errors.APIResponseValidationError, ValueError) as exc:  # includes json.JSONDecodeError
                raise EngineError(
                    f"{self.base_url}: malformed response (not valid JSON / schema): {type(exc).__name__}: {str(exc)[:200]}"
                ) from None
        raise AssertionError("unreachable")

    def _map(self, fn, items: list) -> list:
        if len(items) <= 1:
            return [fn(x) for x in items]
        with cf.ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # ------------------------------------------------------------------ constraints
    def _constraint_request(self, constraint) -> tuple[dict[str, Any], dict[str, Any]]:
        """(extra_body, extra request kwargs) for a constraint."""
        if constraint is None or self.constraint_style == "none":
            return {}, {}
        if self.constraint_style == "json_schema":
            if isinstance(constraint, SelectionConstraint):
                items = {"type": "integer", "minimum": 1, "maximum": constraint.num_candidates}
                prop = {"selection": {"type": "array", "minItems": 1, "maxItems": constraint.limit, "items": items}}
            else:
                prop = {"text": {"type": "string", "pattern": f"^(?:{constraint.pattern})$"}}
            schema = {"type": "object", "properties": prop, "required": list(prop), "additionalProperties": False}
            fmt = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}
            return {}, {"response_format": fmt}
        pattern = constraint_regex(constraint)
        if self.constraint_style == "guided":
            return {"guided_regex": pattern}, {}
        return {"structured_outputs": {"regex": pattern}}, {}

    def _from_json(self, text: str, constraint: RegexConstraint | SelectionConstraint) -> str:
        """Turn a json_schema answer back into the constrained text (unparseable → as is)."""
        try:
            data = json.loads(text)
            if isinstance(constraint, SelectionConstraint):
                return constraint.header + "".join(f" [{int(i)}]" for i in data["selection"])
            return str(data["text"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return text  # the selection parser records the failure

    # ------------------------------------------------------------------ protocol
    def generate(self, prompts: list[list[Message]], params: GenerationParams) -> list[list[Completion]]:
        """``params.n`` completions per prompt; one request per prompt, sent concurrently."""
        if not isinstance(params, GenerationParams):
            raise TypeError(f"params must be GenerationParams, got {type(params).__name__}")
        prompts = validate_prompts(prompts)
        if self.tokenizer is not None and prompts:
            sizes = [self.count_tokens(p) + len(self.tokenizer.encode(params.prefix or "", add_special_tokens=False))
                     for p in prompts]
            check_lengths(sizes, params.max_tokens, self.max_context)
        return self._map(lambda messages: self._generate_checked(messages, params), prompts)

    def _disable_constraints(self, why: str) -> None:
        with self._count_lock:
            if self.constraint_disabled is None:
                self.constraint_disabled = why
                logging.getLogger(__name__).warning(
                    "%s did not honour the %s constraint (%s): sending requests unconstrained from now on; "
                    "replies are parsed with the selection parser and its fallback", self.base_url,
                    self.constraint_style, why)

    def _generate_checked(self, messages, params: GenerationParams) -> list[Completion]:
        """One prompt's completions, with the server's constraint support checked (module docstring)."""
        if params.constraint is None or self.constraint_disabled is not None:
            out = self._generate_one(messages, params, {}, {})
            if params.constraint is not None:
                with self._count_lock:
                    self.unconstrained_replies += len(out)
            return out
        extra_body, extra = self._constraint_request(params.constraint)
        try:
            out = self._generate_one(messages, params, extra_body, extra)
        except EngineError as exc:
            if not any(f"HTTP {c}" in str(exc) for c in (400, 422)) or not (extra_body or extra):
                raise
            self._disable_constraints(f"the request was refused: {str(exc)[:160]}")
            return self._generate_checked(messages, params)
        if extra_body:  # a regex was sent: every reply must follow it
            broken = [c for c in out if _breaks(params.constraint, c.text[len(params.prefix or ""):], c.finish_reason)]
            if broken:
                self._disable_constraints(f"reply {broken[0].text[:60]!r} does not match the regex sent")
                with self._count_lock:
                    self.unconstrained_replies += len(broken)
        return out

    def _generate_one(self, messages, params: GenerationParams, extra_body: dict, extra: dict) -> list[Completion]:
        msgs = list(messages)
        body = dict(extra_body)
        if params.prefix:
            msgs.append({"role": "assistant", "content": params.prefix})
            body.update(continue_final_message=True, add_generation_prompt=False)
        kwargs: dict[str, Any] = dict(model=self.model, messages=msgs, n=params.n, max_tokens=params.max_tokens,
                                      temperature=params.temperature, top_p=params.top_p, **extra)
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if body:
            kwargs["extra_body"] = body
        resp = self._request(self.client.chat.completions.create, **kwargs)
        try:
            choices = sorted(resp.choices, key=lambda c: c.index)
            usage = resp.usage
            out = []
            for choice in choices:
                raw = choice.message.content
                if not isinstance(raw, str):
                    raise TypeError(f"choice {choice.index} has no text content")
                if extra:
                    raw = self._from_json(raw, params.constraint)
                text, _ = finish_text(params.prefix, raw, params.stop)
                if len(choices) == 1 or self.tokenizer is None:  # usage is the total over the choices
                    n_completion = int(usage.completion_tokens) // len(choices) if usage else 0
                else:  # per-sample counts are not reported: re-tokenize (may differ by a token)
                    n_completion = len(self.tokenizer.encode(raw, add_special_tokens=False))
                out.append(Completion(
                    text=text,
                    prompt_tokens=int(usage.prompt_tokens) if usage else 0,
                    completion_tokens=n_completion,
                    finish_reason="length" if choice.finish_reason == "length" else "stop",
                ))
        except (AttributeError, TypeError, ValueError) as exc:
            raise EngineError(f"{self.base_url}: malformed chat completion: {exc}") from None
        if len(out) != params.n:
            raise EngineError(f"{self.base_url}: asked for n={params.n} choices, got {len(out)}")
        return out

    def _chat_text(self, messages: list[Message]) -> str:
        if self.tokenizer is None:
            raise NotSupportedError(
                "scoring through an OpenAI-compatible server needs the model's chat template: "
                "pass tokenizer=<local HF folder, .gguf or smollm2-135m> to the openai engine"
            )
        return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    def score(self, prompts: list[list[Message]], continuations: list[str]) -> list[Scored]:
        """Continuation log-probs through ``completions`` with ``echo`` + ``logprobs``."""
        prompts = validate_prompts(prompts)
        continuations = validate_continuations(prompts, continuations)
        texts = [self._chat_text(p) for p in prompts]
        return self._map(lambda pair: self._score_one(*pair), list(zip(texts, continuations)))

    def _score_one(self, prompt_text: str, continuation: str) -> Scored:
        try:
            resp = self._request(self.client.completions.create, model=self.model, prompt=prompt_text + continuation,
                                 echo=True, logprobs=1, max_tokens=1, temperature=0.0)
        except EngineError as exc:
            if any(f"HTTP {c}" in str(exc) for c in (400, 404, 405, 422, 501)):
                raise NotSupportedError(f"{self.base_url} does not support echo + logprobs scoring: {exc}") from None
            raise
        try:
            lp = resp.choices[0].logprobs if resp.choices else None
            if lp is None or not lp.text_offset or not lp.token_logprobs:
                raise NotSupportedError(f"{self.base_url} returned no prompt log-probs (echo is not supported)")
            start, end = len(prompt_text), len(prompt_text) + len(continuation)
            tokens, values = [], []
            for tok, off, val in zip(lp.tokens, lp.text_offset, lp.token_logprobs):
                if start <= off < end:
                    if val is None:
                        raise EngineError(f"{self.base_url}: no log-prob for continuation token {tok!r}")
                    tokens.append(tok)
                    values.append(float(val))
        except (AttributeError, TypeError, IndexError) as exc:
            raise EngineError(f"{self.base_url}: malformed completions/echo response: {exc}") from None
        return Scored(values, tokens)

    def count_tokens(self, text_or_messages: str | list[Message]) -> int:
        """Exact with ``tokenizer=``; otherwise an over-estimate (1 token per 3 characters)."""
        if isinstance(text_or_messages, str):
            text = text_or_messages
        else:
            [messages] = validate_prompts([text_or_messages])
            if self.tokenizer is None:
                text = "".join(m["role"] + ": " + m["content"] + "\n" for m in messages)
            else:
                text = self._chat_text(messages)
        if self.tokenizer is None:
            return len(text) // 3 + 1
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()
