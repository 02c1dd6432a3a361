"""The engine protocol every model backend implements (DESIGN §5), its errors, and helpers.

Batch-first: one call takes many prompts. A prompt is a list of chat messages; the engine
applies the model's own chat template. :class:`~setsel.types.GenerationParams` carries n,
temperature, top_p, max_tokens, seed, stop strings, an output constraint and an assistant
prefix.

Contract (every engine):
- ``generate(prompts, params) -> list[list[Completion]]``: ``params.n`` completions per
  prompt, in prompt order. ``Completion.text`` starts with ``params.prefix`` (when given),
  is cut before the first stop string, and ``finish_reason`` is ``"stop"`` (end of turn or a
  stop string) or ``"length"`` (``max_tokens`` reached).
- ``score(prompts, continuations) -> list[Scored]``: log-probs of the continuation's tokens
  only, the continuation being the assistant reply to the chat-formatted prompt.
- ``count_tokens(text | messages) -> int`` (messages: the templated prompt with the
  generation prompt), ``max_context``, ``model_id``, ``close()``; ``tokenizer`` where one exists.
- A prompt that does not fit the context raises :class:`ContextLengthError`; nothing is cut.

Example:
    >>> finish_text("### Queries:", " a\\nb;c", stop=(";",))
    ('### Queries: a\\nb', True)
    >>> check_lengths([10, 20], max_tokens=5, max_context=30)
    >>> try:
    ...     check_lengths([10, 26], max_tokens=5, max_context=30)
    ... except ContextLengthError as exc:
    ...     print(str(exc)[:64])
    prompt 1: 26 prompt tokens + 5 to generate exceed the context of
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from setsel.types import Completion, GenerationParams, Message, Scored

ROLES = ("system", "user", "assistant")


class EngineError(RuntimeError):
    """A model backend failed (load failure, server error, malformed response)."""


class ContextLengthError(EngineError, ValueError):
    """A prompt (plus the tokens to generate) is longer than the model's context.

    Attributes ``prompt_tokens``, ``max_tokens``, ``max_context`` and ``index`` (the
    prompt's position in the batch) let callers shrink passage budgets and retry.
    """

    def __init__(self, prompt_tokens: int, max_tokens: int, max_context: int, index: int | None = None):
        where = f"prompt {index}: " if index is not None else ""
        super().__init__(
            f"{where}{prompt_tokens} prompt tokens + {max_tokens} to generate exceed the context of {max_context} "
            "tokens; shrink the per-passage budget or split the pool (nothing is cut silently)"
        )
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.max_context = max_context
        self.index = index


class NotSupportedError(EngineError):
    """The backend cannot do this (e.g. scoring on a server without echo + logprobs)."""


@runtime_checkable
class LLMEngine(Protocol):
    """What selection, synthesis, evaluation and serving call. See the module docstring."""

    model_id: str
    max_context: int

    def generate(self, prompts: list[list[Message]], params: GenerationParams) -> list[list[Completion]]:
        """``params.n`` completions per prompt, in prompt order."""
        ...

    def score(self, prompts: list[list[Message]], continuations: list[str]) -> list[Scored]:
        """Log-probs of each continuation's tokens, given its chat-formatted prompt."""
        ...

    def count_tokens(self, text_or_messages: str | list[Message]) -> int:
        """Tokens of a string, or of a chat prompt after templating (with the generation prompt)."""
        ...

    def close(self) -> None:
        """Release the model / connections. The engine is unusable afterwards."""
        ...


# --------------------------------------------------------------------------- helpers


def validate_prompts(prompts: Any) -> list[list[Message]]:
    """Check a batch of chat prompts; return it as a list. Bad input → ``ValueError`` naming the spot.

    >>> validate_prompts([[{"role": "user", "content": "Hi"}]])
    [[{'role': 'user', 'content': 'Hi'}]]
    """
    if isinstance(prompts, (str, dict)) or not isinstance(prompts, Sequence):
        raise ValueError(f"prompts must be a list of chat prompts (lists of messages), got {type(prompts).__name__}")
    out = []
    for i, messages in enumerate(prompts):
        if isinstance(messages, (str, dict)) or not isinstance(messages, Sequence) or not messages:
            raise ValueError(f"prompt {i}: expected a non-empty list of messages, got {type(messages).__name__}")
        for j, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise ValueError(
                    f"prompt {i}, message {j}: expected {{'role': one of {ROLES}, 'content': str}}, got {m!r:.120}"
                )
        out.append(list(messages))
    return out


def validate_continuations(prompts: list, continuations: Any) -> list[str]:
    """``score`` input check: one string continuation per prompt."""
    if isinstance(continuations, str) or not isinstance(continuations, Sequence):
        raise ValueError("continuations must be a list of strings, one per prompt")
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    for i, c in enumerate(continuations):
        if not isinstance(c, str):
            raise ValueError(f"continuation {i} must be a string, got {type(c).__name__}")
    return list(continuations)


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the earliest stop string; return ``(text, stopped)``.

    >>> apply_stop("a. b. c", (". c", "b"))
    ('a. ', True)
    """
    cut = len(text)
    for s in stop:
        i = text.find(s)
        if i != -1:
            cut = min(cut, i)
    return text[:cut], cut < len(text)


def finish_text(prefix: str | None, generated: str, stop: Sequence[str] = ()) -> tuple[str, bool]:
    """The final ``Completion.text``: the prefix + the generated text cut at a stop string.

    Stop strings are searched in the generated part only (the prefix is the caller's own
    text). Returns ``(text, stopped_by_stop_string)``.
    """
    cut, stopped = apply_stop(generated, stop)
    return (prefix or "") + cut, stopped


def check_lengths(n_tokens: Sequence[int], max_tokens: int, max_context: int) -> None:
    """Raise :class:`ContextLengthError` for the first prompt with ``n + max_tokens > max_context``."""
    for i, n in enumerate(n_tokens):
        if n + max_tokens > max_context:
            raise ContextLengthError(n, max_tokens, max_context, index=i)


def token_texts(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Each token's decoded text (``" capital"``, not the BPE spelling ``"Ġcapital"``): the one
    spelling of :attr:`Scored.tokens` across engines, the one OpenAI-compatible servers return.
    A token holding part of a multi-byte character decodes to the replacement character (U+FFFD)."""
    return [tokenizer.decode([int(t)]) for t in ids]
