"""The selector contract (DESIGN §6): options common to every method and the base class.

A selector turns a batch of :class:`~setsel.types.Candidates` into one
:class:`~setsel.types.Selection` per query, always batched::

    selector.select(batch: list[Candidates]) -> list[Selection]

Subclasses implement :meth:`Selector._select`; :meth:`Selector.select` wraps it with what
every method shares: input checks, the optional candidate shuffle (``shuffle_seed``), the
``max_passages`` budget, a check that every returned id is in the pool, and latency.

Options common to all methods (:class:`SelectorOptions`); a method adds its own fields
by subclassing it and setting ``options_cls``:

- ``k``: the size for ranking methods (top-k) and of the default ``topk`` fallback;
- ``max_passages``: a user budget on the selected-set size (``None`` = no limit);
- ``fallback``: what a method uses when its output is unusable: ``"topk:N"`` (the first
  N candidates) or ``"empty"``; default ``"topk:<k>"``;
- ``shuffle_seed``: permute each pool before selecting (deterministic per (seed, query
  id), see :func:`shuffle_candidates`);
- ``seed``: for any sampling the method does (deterministic methods ignore it).

Example:
    >>> from setsel.selection import get_selector
    >>> sel = get_selector("topk", k=2)
    >>> [s.selected_ids for s in sel.select(cands)]  # doctest: +SKIP
    [['p1', 'p2']]
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from setsel.types import Candidates, Selection

_FALLBACK = re.compile(r"^(?:topk:(?P<n>[1-9]\d*)|empty)$")


class SelectorError(ValueError):
    """A selector was asked for with a bad name or bad options, or returned a bad result."""


def check_positive_int(name: str, value: Any, allow_none: bool) -> None:
    """Raise :class:`SelectorError` unless ``value`` is an int ≥ 1 (or ``None`` when ``allow_none``):
    the check every selector option with a count uses (bools are refused)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SelectorError(f"{name} must be an int ≥ 1{' or None' if allow_none else ''}, got {value!r}")


@dataclass
class SelectorOptions:
    """Options every method accepts (see the module docstring)."""

    k: int = 5
    max_passages: int | None = None
    fallback: str | None = None
    shuffle_seed: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("k", self.k, allow_none=False)
        check_positive_int("max_passages", self.max_passages, allow_none=True)
        if self.fallback is None:
            self.fallback = f"topk:{self.k}"
        if not isinstance(self.fallback, str) or not _FALLBACK.match(self.fallback):
            raise SelectorError(f"fallback must be 'topk:N' (N ≥ 1) or 'empty', got {self.fallback!r}")
        for name in ("shuffle_seed", "seed"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise SelectorError(f"{name} must be an int or None, got {value!r}")

    @classmethod
    def from_options(cls, method: str, **options: Any) -> "SelectorOptions":
        """Build from keyword options; an option this method does not take is a :class:`SelectorError`."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise SelectorError(f"method {method!r} does not take option(s) {unknown}; valid options: {names}")
        try:
            return cls(**options)
        except TypeError as exc:
            raise SelectorError(f"method {method!r}: {exc}") from None

    def fallback_ids(self, candidates: Candidates) -> list[str]:
        """The ids the fallback policy picks for ``candidates`` (``[]`` for ``empty``)."""
        match = _FALLBACK.match(self.fallback or "")
        n = int(match.group("n")) if match and match.group("n") else 0
        return candidates.ids[:n]


def shuffle_candidates(candidates: Candidates, seed: int) -> Candidates:
    """A copy of ``candidates`` with the pool permuted by ``random.Random(f"{seed}:{query id}")``.

    Scores move with their passages; the query (and its gold ids) is unchanged. The same
    (seed, query id) always gives the same permutation (as ``load_demo(shuffle_seed=)``).
    """
    order = list(range(len(candidates.passages)))
    random.Random(f"{seed}:{candidates.query.id}").shuffle(order)
    scores = None if candidates.scores is None else [candidates.scores[i] for i in order]
    return Candidates(query=candidates.query, passages=[candidates.passages[i] for i in order], scores=scores,
                      retriever=candidates.retriever)


class Selector(ABC):
    """Base class of every selection method. Construct through :func:`setsel.selection.get_selector`.

    Class attributes a method sets:
        name: the registry name (set by ``@register_selector``).
        options_cls: its :class:`SelectorOptions` subclass.
        uses_llm: whether it calls a language model (then parse status, fallbacks and
            completion tokens are meaningful in evaluation).
    """

    name: ClassVar[str] = ""
    options_cls: ClassVar[type[SelectorOptions]] = SelectorOptions
    uses_llm: ClassVar[bool] = False

    def __init__(self, options: SelectorOptions | None = None) -> None:
        options = options if options is not None else self.options_cls()
        if not isinstance(options, self.options_cls):
            raise SelectorError(f"{type(self).__name__} needs {self.options_cls.__name__}, got {type(options).__name__}")
        self.options = options

    @abstractmethod
    def _select(self, batch: list[Candidates]) -> list[Selection]:
        """Select for each item of ``batch`` (already shuffled if asked); one Selection each, in order."""

    def select(self, batch: list[Candidates]) -> list[Selection]:
        """One :class:`Selection` per item of ``batch``, in order (see the module docstring)."""
        if not isinstance(batch, list) or not all(isinstance(c, Candidates) for c in batch):
            raise SelectorError("select() takes a list of Candidates")
        if not batch:
            return []
        if self.options.shuffle_seed is not None:
            batch = [shuffle_candidates(c, self.options.shuffle_seed) for c in batch]
        start = time.perf_counter()
        selections = self._select(batch)
        elapsed = time.perf_counter() - start
        if len(selections) != len(batch):
            raise SelectorError(f"{self.name}: returned {len(selections)} selections for {len(batch)} queries")
        for cand, sel in zip(batch, selections):
            if sel.query_id != cand.query.id:
                raise SelectorError(f"{self.name}: selection for {sel.query_id!r} where {cand.query.id!r} was expected")
            pool = set(cand.ids)
            stray = [i for i in sel.selected_ids if i not in pool]
            if stray:
                raise SelectorError(f"{self.name}: query {cand.query.id}: ids not in the pool: {stray[:5]}")
            if self.options.max_passages is not None and len(sel.selected_ids) > self.options.max_passages:
                sel.selected_ids = sel.selected_ids[: self.options.max_passages]
                sel.problems.append(f"truncated to max_passages={self.options.max_passages}")
            if not sel.latency_s:
                sel.latency_s = elapsed / len(batch)
        return selections

    def close(self) -> None:
        """Release models or connections (nothing for LLM-free methods)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options})"
