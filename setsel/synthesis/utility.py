"""Generator-perplexity utility of a passage set (OptiSet §3.2.2, Eqs. 5–7).

For a question q with gold answer a and a set S:

- **Eq. (5)** ``PPL = exp(−1/N Σ_j log p(a_j | q, S, a_<j))`` over the N answer tokens;
- **Eq. (6)** ``H = log PPL`` = the mean negative log-likelihood per answer token;
- **Eq. (7)** ``ΔH = H_p − H_0`` with ``H_0`` computed on the same prompt with no passages.

The prompt is the ``answer`` template (OptiSet Table 8) rendered through the generator's
chat template; the gold answer is scored as the assistant reply, answer tokens only
(``engine.score``). Where a question has several gold answers, the first (the
dataset's canonical answer) is scored.

Example:
    engine = load_engine("hf:smollm2-135m")
    h0 = answer_entropy(engine, [q], [a], [[]])          # no passages
    h = answer_entropy(engine, [q], [a], [passages])     # with the set
    dH = h[0] - h0[0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from setsel.types import Passage


def entropy_from_logprobs(token_logprobs: Sequence[float]) -> float:
    """Eq. (6): H = log PPL = −mean(log p). ``nan`` for an empty answer."""
    if not token_logprobs:
        return float("nan")
    return -math.fsum(token_logprobs) / len(token_logprobs)


def answer_entropy(
    engine: Any,
    questions: Sequence[str],
    answers: Sequence[str],
    contexts: Sequence[Sequence[Passage]],
    max_words: int | None = 300,
) -> list[float]:
    """H of each gold answer under ``engine`` given its context set (one batched ``score`` call).

    Args:
        engine: an :mod:`setsel.engines` engine with ``score``.
        questions, answers, contexts: aligned lists; a context is a list of passages
            (empty list → the no-passage baseline H_0).
        max_words: per-passage word budget of the rendered context.
    Returns:
        one H per item (``nan`` where the answer is empty).
    """
    from setsel.prompts import render

    if not (len(questions) == len(answers) == len(contexts)):
        raise ValueError("questions, answers and contexts must have the same length")
    if not questions:
        return []
    prompts = [render("answer", question=q, passages=list(ctx), max_words=max_words) for q, ctx in zip(questions, contexts)]
    scored = engine.score(prompts, [str(a) for a in answers])
    return [entropy_from_logprobs(s.token_logprobs) for s in scored]


def entropy_change(h: float, h0: float) -> float:
    """Eq. (7): ΔH = H_p − H_0 (negative = the set helps the generator); ``nan`` when
    either is undefined (an empty answer).

    >>> entropy_change(0.5, 2.0), entropy_change(float("nan"), 2.0) != entropy_change(0.5, 2.0)
    (-1.5, True)
    """
    if not (math.isfinite(h) and math.isfinite(h0)):
        return float("nan")
    return float(h - h0)
