"""``listwise``: RankGPT sliding-window listwise reranking, then the top ``k`` (the reranking baseline).

The pool is reranked back to front in windows of ``window`` passages moved ``step`` at a
time (RankGPT: window 20, step 10), so strong passages bubble towards the front; each
window is one ``listwise_rank`` prompt whose answer ``[2] > [1] > …`` is parsed by
:func:`setsel.prompts.parse_ranking` (ids it leaves out keep their relative order after the
ones it names). A window whose output has no usable ranking keeps its order (recorded).

Batching: windows of one question depend on each other, so the batch advances window by
window — round ``r`` reranks window ``r`` of every question that has one, in one engine
call (one per window size when sizes differ). A 20-passage pool is one round; 100 passages are 9.

Decoding: with ``constrained`` (the default, like every LLM method) the reply is held to
a full ``[i] > [j] > …`` chain over the window's ids (:func:`ranking_regex`, the engines'
regex constraint), so every window parses; repeated ids are dropped and missing ones
appended by the parser (``repaired``). ``constrained=False`` is RankGPT's free generation
(measured on openret-hotpotqa with SmolLM2: 31 % of windows had no ranking at all).

Output: the first ``k`` of the final ranking (``ordered=True``; ``max_passages`` caps
it). When no window of a question produced a ranking, the configured fallback applies.

Example:
    >>> sliding_windows(10)
    [(0, 10)]
    >>> sliding_windows(35, window=20, step=10)
    [(15, 35), (5, 25), (0, 15)]
    >>> apply_window(["a", "b", "c", "d"], 1, 3, [2, 1])
    ['a', 'c', 'b', 'd']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from setsel.prompts import parse_ranking, render
from setsel.selection import register_selector
from setsel.selection.base import SelectorError, SelectorOptions, check_positive_int
from setsel.selection.decoding import generate_safe
from setsel.selection.chunking import PromptError, fit_prompt
from setsel.selection.llm import LLMOptions, LLMSelector
from setsel.selection.stages import MARGIN_TOKENS, StageResult
from setsel.types import Candidates, GenerationParams, RegexConstraint, Selection


def sliding_windows(n: int, window: int = 20, step: int = 10) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` windows over ``n`` positions, last window first.

    The first window ends at ``n``; each next one is ``step`` earlier; the last starts at 0.
    """
    if n <= 0:
        return []
    out = []
    end = n
    while True:
        start = max(0, end - window)
        out.append((start, end))
        if start == 0:
            return out
        end -= step


def apply_window(order: list, start: int, end: int, ranking: list[int]) -> list:
    """``order`` with ``order[start:end]`` permuted by ``ranking`` (1-based, a full permutation)."""
    segment = order[start:end]
    return order[:start] + [segment[i - 1] for i in ranking] + order[end:]


def ranking_regex(size: int) -> str:
    """Full-match regex of a ``[i] > [j] > …`` chain of ``size`` ids, each in ``1..size``.

    >>> import re
    >>> bool(re.fullmatch(ranking_regex(3), "[2] > [3] > [1]")), bool(re.fullmatch(ranking_regex(3), "[4] > [1] > [2]"))
    (True, False)
    """
    ids = "|".join(str(i) for i in range(size, 0, -1))  # longest first: 10 before 1
    return rf"\[(?:{ids})\](?: > \[(?:{ids})\]){{{size - 1}}}"


def ranking_tokens(size: int) -> int:
    """Generation budget for a ``[i] > [j] > …`` permutation of ``size`` ids."""
    return 8 + 7 * size


@dataclass
class ListwiseOptions(LLMOptions):
    """:class:`~setsel.selection.llm.LLMOptions` plus ``window`` and ``step``."""

    window: int = 20
    step: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("window", self.window, allow_none=False)
        check_positive_int("step", self.step, allow_none=False)
        if self.step > self.window:
            raise SelectorError(f"step ({self.step}) must not exceed window ({self.window})")


@register_selector("listwise")
class Listwise(LLMSelector):
    """RankGPT-style sliding-window reranking with any engine (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = ListwiseOptions

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        o = self.options
        orders = [list(range(len(c.passages))) for c in batch]
        plans = [sliding_windows(len(c.passages), o.window, o.step) for c in batch]
        traces = [StageResult(status="failed") for _ in batch]
        statuses: list[list[str]] = [[] for _ in batch]  # per window: ok / repaired / failed
        for r in range(max((len(p) for p in plans), default=0)):
            todo = [i for i, p in enumerate(plans) if r < len(p)]
            prompts, owners = [], []
            for i in todo:
                start, end = plans[i][r]
                try:
                    prompts.append(self._prompt(batch[i], orders[i][start:end]))
                    owners.append(i)
                except (ValueError, PromptError) as exc:
                    traces[i].problems.append(f"window {r + 1}: {exc}")
                    statuses[i].append("failed")
            if not prompts:
                continue
            groups: dict[int, list[int]] = {}  # window size -> positions in prompts (one call each)
            for j, i in enumerate(owners):
                groups.setdefault(plans[i][r][1] - plans[i][r][0] if o.constrained else 0, []).append(j)
            for size, members in groups.items():
                width = size or max(plans[owners[j]][r][1] - plans[owners[j]][r][0] for j in members)
                params = GenerationParams(max_tokens=ranking_tokens(width),
                                          constraint=RegexConstraint(ranking_regex(width)) if o.constrained else None)
                completions = generate_safe(self.engine, [prompts[j] for j in members], params)
                for j, c in zip(members, completions):
                    i = owners[j]
                    statuses[i].append(self._absorb(traces[i], orders, i, plans[i][r], r, c))
        out = []
        for c, order, t, st in zip(batch, orders, traces, statuses):
            t.status = "failed" if st.count("failed") == len(st) else ("ok" if st.count("ok") == len(st) else "repaired")
            n = o.k if o.max_passages is None else min(o.k, o.max_passages)
            t.positions = order[:n]
            sel = self.to_selection(c, t)
            sel.ordered = sel.fallback_used is None
            out.append(sel)
        return out

    def _prompt(self, cand: Candidates, positions: list[int]) -> list:
        """The ``listwise_rank`` prompt for these pool positions, shrunk to fit the context."""
        question = cand.query.question

        def build(indices: list[int], words: int | None) -> list:
            return render("listwise_rank", question=question, passages=[cand.passages[positions[j]] for j in indices],
                          max_words=words)

        budget = self.engine.max_context - ranking_tokens(len(positions)) - MARGIN_TOKENS
        return fit_prompt(build, list(range(len(positions))), self.engine.count_tokens, budget,
                          self.options.max_words, min(self.options.min_words, self.options.max_words)).messages

    @staticmethod
    def _absorb(trace: StageResult, orders: list[list[int]], i: int, win: tuple[int, int], r: int, c) -> str:
        """Apply one window's output to ``orders[i]``; return its parse status."""
        label = f"window {r + 1} [{win[0] + 1}..{win[1]}]"
        if isinstance(c, str):
            trace.problems.append(f"{label}: {c}")
            return "failed"
        trace.prompt_tokens += c.prompt_tokens
        trace.completion_tokens += c.completion_tokens
        trace.prompts += 1
        trace.outputs.append(f"[{label}]\n{c.text}")
        parsed = parse_ranking(c.text, win[1] - win[0])
        trace.problems.extend(f"{label}: {p}" for p in parsed.problems)
        if parsed.status != "failed":
            orders[i] = apply_window(orders[i], win[0], win[1], parsed.ids)
        return parsed.status
