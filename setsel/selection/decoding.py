"""Two-phase selection decoding over any engine: free reasoning, then a constrained selection.

This module makes the model calls of an LLM selection stage and parses their output; it
knows nothing about questions, candidate pools or fallbacks (see :mod:`setsel.selection.llm`).

For a batch of selection prompts (each a list of chat messages with ``sizes[i]`` numbered
passages), :func:`decode_selections` runs, with :class:`DecodeConfig`:

- ``constrained=True, reasoning=True`` (default for IRI / CoT / OptiSet select and refine):
  **phase 1**, one engine call, free reasoning up to ``reasoning_tokens`` tokens, stopped at
  ``### Final Selection``; **phase 2**, one engine call, the model's reasoning is added to
  the conversation as its assistant turn, followed by a short user turn asking for the
  final selection (:func:`selection_request`), and the reply is generated under
  :class:`~setsel.types.SelectionConstraint` — so it is always ``### Final Selection: [i] …``
  with in-range ids, at most ``max_passages`` of them.
  (A per-prompt assistant prefix would be the other way to continue the reply, but
  :class:`~setsel.types.GenerationParams` has one ``prefix`` per call; the extra turn keeps
  phase 2 a single batched call on every engine.)
- ``constrained=True, reasoning=False`` (selection-only): phase 2 alone, on the prompt.
- ``constrained=False``: one free generation of ``reasoning_tokens + selection tokens``
  (or the selection tokens alone without reasoning), parsed as is — this is how the
  parse-failure rate without constraints is measured.

A call's constraint is that of the widest pool in the call (one grammar per call); an id a
smaller pool does not have is dropped by the parser (recorded as a problem), and any prompt
left with no usable id is retried once under its own exact constraint (grouped by pool
size). With uniform pools (the usual case) every stage is exactly one engine call per phase.

A prompt the engine rejects as too long (:class:`~setsel.engines.base.ContextLengthError`)
is dropped from the call and reported as ``failed`` with the engine's message; the others
still run.

Example:
    >>> selection_request(3)
    "Now output only your final selection of at most 3 passages, in the format '### Final Selection: [] []'."
    >>> selection_tokens(5)
    38
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from setsel.engines.base import ContextLengthError
from setsel.prompts import ParsedSelection
from setsel.prompts.selection_format import SELECTION
from setsel.types import Completion, GenerationParams, Message

STOP = SELECTION.stop
# Tokens reserved for the follow-up user turn of phase 2 and the chat-template overhead.
FOLLOWUP_TOKENS = 64


@dataclass(frozen=True)
class Sampling:
    """A stage's sampling policy (OptiSet Algorithm 1 samples its selections; serving is greedy).

    ``seed`` is the stage's seed: engines draw each row from (seed, prompt, sample index), so a
    prompt's sample does not depend on the rest of the batch.

    >>> Sampling(0.7, seed=3).params()
    {'temperature': 0.7, 'top_p': 1.0, 'seed': 3}
    """

    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None

    def params(self) -> dict[str, Any]:
        """The :class:`~setsel.types.GenerationParams` fields of this policy."""
        return {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed}


@dataclass(frozen=True)
class DecodeConfig:
    """How a selection stage decodes (see the module docstring).

    ``sampling`` ``None`` is greedy decoding (selectors); synthesis passes a :class:`Sampling`.
    ``selection_max_tokens`` overrides the selection line's budget (:meth:`SelectionFormat.tokens`).
    """

    reasoning: bool = True
    constrained: bool = True
    reasoning_tokens: int = 256
    max_passages: int | None = None
    sampling: Sampling | None = None
    selection_max_tokens: int | None = None

    def sampling_params(self) -> dict[str, Any]:
        """Extra :class:`~setsel.types.GenerationParams` fields: the sampling policy's, or none (greedy)."""
        return {} if self.sampling is None else self.sampling.params()

    def selection_budget(self, limit: int) -> int:
        """Tokens of a selection line with up to ``limit`` ids."""
        return self.selection_max_tokens or selection_tokens(limit)

    def __post_init__(self) -> None:
        if isinstance(self.reasoning_tokens, bool) or not isinstance(self.reasoning_tokens, int) or self.reasoning_tokens < 1:
            raise ValueError(f"reasoning_tokens must be an int ≥ 1, got {self.reasoning_tokens!r}")
        if self.max_passages is not None and (
            isinstance(self.max_passages, bool) or not isinstance(self.max_passages, int) or self.max_passages < 1
        ):
            raise ValueError(f"max_passages must be None or an int ≥ 1, got {self.max_passages!r}")

    def generation_budget(self, pool_size: int) -> int:
        """Tokens a prompt of ``pool_size`` passages must leave free in the context."""
        limit = pool_size if self.max_passages is None else min(self.max_passages, pool_size)
        tokens = self.selection_budget(limit)
        if self.reasoning:
            tokens += self.reasoning_tokens + (FOLLOWUP_TOKENS if self.constrained else 0)
        return tokens


@dataclass
class Decoded:
    """One prompt's decoding: the full text the model wrote and its parse.

    ``raw_output`` is the reasoning (phase 1) and the selection line (phase 2) joined by a
    newline; ``parsed`` is ``parse_selection(raw_output, size)``.
    """

    raw_output: str
    reasoning: str
    parsed: ParsedSelection
    prompt_tokens: int = 0
    completion_tokens: int = 0
    problems: list[str] = field(default_factory=list)


def selection_tokens(limit: int) -> int:
    """Generation budget for a selection line with up to ``limit`` ids (:meth:`SelectionFormat.tokens`)."""
    return SELECTION.tokens(limit)


def selection_request(max_passages: int | None = None) -> str:
    """The phase-2 user turn that asks for the final selection (:meth:`SelectionFormat.request`)."""
    return SELECTION.request(max_passages)


def with_reasoning(prompt: Sequence[Message], reasoning: str, max_passages: int | None) -> list[Message]:
    """Phase-2 prompt: the original messages, the model's reasoning, and the selection request."""
    return [
        *prompt,
        {"role": "assistant", "content": reasoning or "(no reasoning)"},
        {"role": "user", "content": selection_request(max_passages)},
    ]


def _limit(size: int, max_passages: int | None) -> int:
    return size if max_passages is None else min(size, max_passages)


def generate_safe(engine: Any, prompts: list[list[Message]], params: GenerationParams) -> list[Completion | str]:
    """``engine.generate`` with ``n=1``; a prompt rejected as too long yields its error message.

    Returns one :class:`~setsel.types.Completion` (or the error text) per prompt. Other
    engine errors propagate: they are failures of the backend, not of one input.
    """
    out: list[Completion | str | None] = [None] * len(prompts)
    live = list(range(len(prompts)))
    while live:
        try:
            results = engine.generate([prompts[i] for i in live], params)
        except ContextLengthError as exc:
            if exc.index is None or not 0 <= exc.index < len(live):
                raise
            out[live.pop(exc.index)] = f"prompt too long for the model: {exc}"
            continue
        for i, completions in zip(live, results):
            out[i] = completions[0]
        break
    return out  # type: ignore[return-value]


def decode_selections(
    engine: Any, prompts: list[list[Message]], sizes: list[int], cfg: DecodeConfig
) -> list[Decoded]:
    """Decode one selection stage for a batch (see the module docstring).

    Args:
        engine: an :class:`~setsel.engines.base.LLMEngine`.
        prompts: rendered selection prompts (``[i]`` ids local to each prompt).
        sizes: number of passages in each prompt (≥ 1).
        cfg: :class:`DecodeConfig`.
    Returns:
        one :class:`Decoded` per prompt, in order; ``parsed.ids`` are 1-based local ids.
    """
    if len(prompts) != len(sizes):
        raise ValueError(f"{len(prompts)} prompts but {len(sizes)} sizes")
    if not prompts:
        return []
    if min(sizes) < 1:
        raise ValueError("every selection prompt needs at least one passage")
    widest = max(sizes)
    if not cfg.constrained:
        results = generate_safe(engine, prompts, GenerationParams(max_tokens=cfg.generation_budget(widest),
                                                                  **cfg.sampling_params()))
        return [_free(r, n) for r, n in zip(results, sizes)]
    out = [Decoded("", "", ParsedSelection([], "failed", ["not decoded"])) for _ in prompts]
    second = [list(p) for p in prompts]
    live = list(range(len(prompts)))
    if cfg.reasoning:
        params = GenerationParams(max_tokens=cfg.reasoning_tokens, stop=(STOP,), **cfg.sampling_params())
        for i, c in enumerate(generate_safe(engine, prompts, params)):
            if _failed(out[i], c):
                continue
            out[i].reasoning = c.text.strip()
            second[i] = with_reasoning(prompts[i], out[i].reasoning, cfg.max_passages)
        live = [i for i in live if not out[i].problems]
    _select(engine, second, sizes, live, widest, cfg, out)
    retry: dict[int, list[int]] = {}
    for i in live:
        if sizes[i] < widest and out[i].parsed.status == "failed" and not out[i].problems:
            retry.setdefault(sizes[i], []).append(i)
    for size, idx in sorted(retry.items()):
        for i in idx:
            out[i].problems.append("no in-range id under the batch's widest constraint; retried with this pool's own")
        _select(engine, second, sizes, idx, size, cfg, out)
    return out


def _failed(d: Decoded, c: Completion | str) -> bool:
    """Record a rejected prompt on ``d``; add a completion's usage. ``True`` if rejected."""
    if isinstance(c, str):
        d.problems.append(c)
        d.parsed = ParsedSelection([], "failed", [c])
        return True
    d.prompt_tokens += c.prompt_tokens
    d.completion_tokens += c.completion_tokens
    return False


def _select(
    engine: Any,
    prompts: list[list[Message]],
    sizes: list[int],
    idx: list[int],
    width: int,
    cfg: DecodeConfig,
    out: list[Decoded],
) -> None:
    """Constrained selection (phase 2) for prompts ``idx`` under a grammar for ``width`` candidates."""
    if not idx:
        return
    params = GenerationParams(
        max_tokens=cfg.selection_budget(_limit(width, cfg.max_passages)),
        constraint=SELECTION.constraint(width, cfg.max_passages),
        **cfg.sampling_params(),
    )
    for i, c in zip(idx, generate_safe(engine, [prompts[i] for i in idx], params)):
        d = out[i]
        if _failed(d, c):
            continue
        text = c.text.strip()
        d.raw_output = f"{d.reasoning}\n{text}" if d.reasoning else text
        d.parsed = SELECTION.parse(d.raw_output, sizes[i])


def _free(c: Completion | str, size: int) -> Decoded:
    """An unconstrained generation: reasoning is the text before the last selection header."""
    d = Decoded("", "", ParsedSelection([], "failed", ["not decoded"]))
    if _failed(d, c):
        return d
    d.raw_output = c.text.strip()
    cut = d.raw_output.rfind(STOP)
    d.reasoning = (d.raw_output[:cut] if cut >= 0 else d.raw_output).strip()
    d.parsed = SELECTION.parse(d.raw_output, size)
    return d
