"""Fit a candidate pool into selection prompts that fit the model's context.

A pool first shrinks its per-passage word budget (:func:`setsel.text.fit_word_budget`,
never dropping a passage); when even ``min_words`` words per passage do not fit, the pool
is split into the fewest contiguous, near-equal chunks that each fit. The selector then
selects in every chunk (all chunks of all questions in one engine call) and re-selects
over the union (:mod:`setsel.selection.llm`).

Rendering and token counting are passed in, so this module is pure given them.

Example:
    >>> split_even(list(range(5)), 2)
    [[0, 1, 2], [3, 4]]
    >>> render = lambda idx, words: [{"role": "user", "content": " ".join(["w"] * (9 if words is None else words) * len(idx))}]
    >>> count = lambda msgs: len(msgs[0]["content"].split())
    >>> [(c.indices, c.words) for c in plan_chunks(render, 4, count, budget=18, max_words=9, min_words=5)]
    [([0, 1], 9), ([2, 3], 9)]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from setsel.text import fit_word_budget
from setsel.types import Message

RenderFn = Callable[[list[int], int | None], list[Message]]
CountFn = Callable[[list[Message]], int]


class PoolTooLargeError(ValueError):
    """Even one passage at ``min_words`` words does not fit the token budget."""


class PromptError(Exception):
    """``render`` rejected the input (e.g. an empty question); not a budget problem."""


@dataclass
class Chunk:
    """One prompt of a pool: ``indices`` into the pool, its ``messages`` and word budget."""

    indices: list[int]
    messages: list[Message]
    words: int | None
    tokens: int


def split_even(items: list, parts: int) -> list[list]:
    """``items`` in ``parts`` contiguous pieces whose sizes differ by at most one."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        end = start + size + (1 if p < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def fit_prompt(render: RenderFn, indices: list[int], count: CountFn, budget: int, max_words: int, min_words: int) -> Chunk:
    """The prompt for ``indices`` at the largest word budget that fits ``budget`` tokens.

    Raises ``ValueError`` when even ``min_words`` does not fit, :class:`PromptError` when
    ``render`` rejects the input.
    """
    rendered: dict[str, list[Message]] = {}

    def build(words: int | None) -> str:
        try:
            messages = render(indices, words)
        except ValueError as exc:
            raise PromptError(str(exc)) from None
        key = "\n\n".join(m["content"] for m in messages)
        rendered[key] = messages
        return key

    key, words = fit_word_budget(build, lambda k: count(rendered[k]), budget, start_words=max_words, min_words=min_words)
    messages = rendered[key]
    return Chunk(list(indices), messages, words, count(messages))


def plan_chunks(
    render: RenderFn, n: int, count: CountFn, budget: int, max_words: int, min_words: int
) -> list[Chunk]:
    """Prompts covering passages ``0..n-1`` that each fit ``budget`` tokens.

    Args:
        render: ``render(indices, words)`` → chat messages for those passages at that
            per-passage word budget.
        n: pool size (≥ 1).
        count: tokens of a chat prompt (``engine.count_tokens``).
        budget: the most prompt tokens a chunk may have.
        max_words: starting per-passage word budget.
        min_words: the smallest per-passage budget before splitting.
    Returns:
        the chunks, in pool order (one chunk when the whole pool fits).
    Raises:
        PoolTooLargeError: a single passage does not fit even at ``min_words``.
        PromptError: ``render`` rejected the input.
    """
    if n < 1:
        raise ValueError("a pool needs at least one passage")
    min_words = min(min_words, max_words)
    indices = list(range(n))
    try:
        return [fit_prompt(render, indices, count, budget, max_words, min_words)]
    except ValueError:
        pass
    # Estimate the number of chunks from the whole pool at the minimum budget, then grow.
    overhead = count(render(indices[:1], 0))  # the template with one empty passage
    total = count(render(indices, min_words))
    room = max(1, budget - overhead)
    parts = max(2, math.ceil((total - overhead) / room))
    while parts <= n:
        try:
            return [fit_prompt(render, part, count, budget, max_words, min_words) for part in split_even(indices, parts)]
        except ValueError:
            parts += 1
    raise PoolTooLargeError(f"one passage does not fit {budget} prompt tokens even at {min_words} words")
