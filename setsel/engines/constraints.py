"""Constrained decoding for the transformers engine with xgrammar (the grammar engine vLLM uses).

A :class:`~setsel.types.SelectionConstraint` becomes its regular expression
(:meth:`SelectionConstraint.to_regex`); a :class:`~setsel.types.RegexConstraint` is used as
is. Patterns are compiled once per (tokenizer, vocabulary size, pattern) and cached.
:class:`GrammarLogitsProcessor` keeps one xgrammar matcher per batch row, so padded
batches and ``n > 1`` samples each follow the grammar on their own; a row that ended (end
of turn, a stop string) is released instead of failing.

Install: xgrammar 0.2.8 declares triton (~1 GB of GPU compiler) as a dependency but does
not import it on CPU; ``pip install --no-deps xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2``
is all it needs beside torch, transformers, numpy and pydantic (measured here).

Example:
    >>> compiled = compile_constraint(tokenizer, 49152, SelectionConstraint(10, 5))  # doctest: +SKIP
    >>> model.generate(**enc, logits_processor=[GrammarLogitsProcessor(compiled, {2})])  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from setsel.engines.base import EngineError
from setsel.types import RegexConstraint, SelectionConstraint

INSTALL_HINT = "pip install --no-deps xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2"

_compilers: "weakref.WeakKeyDictionary[Any, dict[int, Any]]" = weakref.WeakKeyDictionary()
_grammars: dict[tuple[int, int, str], Any] = {}
_lock = threading.Lock()


def _xgrammar():
    try:
        import xgrammar
    except ImportError:
        raise EngineError(f"constrained decoding on the hf engine needs xgrammar: {INSTALL_HINT}") from None
    return xgrammar


def constraint_regex(constraint: RegexConstraint | SelectionConstraint) -> str:
    """The regular expression a constraint stands for.

    >>> constraint_regex(SelectionConstraint(3, 2))
    '### Final Selection:( \\\\[(3|2|1)\\\\]){1,2}'
    """
    if isinstance(constraint, SelectionConstraint):
        return constraint.to_regex()
    if isinstance(constraint, RegexConstraint):
        return constraint.pattern
    raise TypeError(f"unsupported constraint {type(constraint).__name__}")


def compile_constraint(tokenizer: Any, vocab_size: int, constraint: RegexConstraint | SelectionConstraint) -> Any:
    """An ``xgrammar.CompiledGrammar`` for ``constraint`` (cached per tokenizer and pattern).

    ``vocab_size`` is the model's logits width (``config.vocab_size``), which may exceed the
    tokenizer's own size. A pattern xgrammar cannot compile → ``ValueError`` naming it.
    """
    xgr = _xgrammar()
    pattern = constraint_regex(constraint)
    key = (id(tokenizer), int(vocab_size), pattern)
    with _lock:
        if key in _grammars:
            return _grammars[key]
        per_vocab = _compilers.setdefault(tokenizer, {})
        if vocab_size not in per_vocab:
            info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=int(vocab_size))
            per_vocab[vocab_size] = xgr.GrammarCompiler(info)
        try:
            compiled = per_vocab[vocab_size].compile_regex(pattern)
        except RuntimeError as exc:
            raise ValueError(f"xgrammar cannot compile the regex {pattern!r}: {exc}") from None
        _grammars[key] = compiled
        return compiled


def make_grammar_processor(compiled: Any, end_ids: set[int]) -> Any:
    """A fresh transformers logits processor for one ``generate`` call (see below)."""
    return _processor_class()(compiled, end_ids)


_CLASS: type | None = None


def _processor_class() -> type:
    """Build the ``LogitsProcessor`` subclass on first use (keeps transformers import lazy)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    import torch
    from transformers import LogitsProcessor

    xgr = _xgrammar()

    class GrammarLogitsProcessor(LogitsProcessor):
        """Masks each row's logits to the tokens its grammar matcher allows.

        One matcher per row, created on the first call (the prompt). On later calls each
        live row accepts the token it was given; a row whose matcher finished, or that was
        handed an end/pad token after transformers stopped it (a stop string), is released
        and left unmasked. Any other rejected token is an internal error.
        Use a new instance per ``generate`` call.
        """

        def __init__(self, compiled: Any, end_ids: set[int]):
            self.compiled = compiled
            self.end_ids = set(end_ids)
            self.vocab_size = compiled.tokenizer_info.vocab_size
            self.matchers: list[Any] = []
            self.live: list[bool] = []
            self.bitmask = None

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            rows = input_ids.shape[0]
            if self.bitmask is None:
                self.matchers = [xgr.GrammarMatcher(self.compiled) for _ in range(rows)]
                self.live = [True] * rows
                self.bitmask = xgr.allocate_token_bitmask(rows, self.vocab_size)
            elif rows != len(self.matchers):
                raise EngineError(f"grammar processor built for {len(self.matchers)} rows got {rows}")
            else:
                for i in range(rows):
                    if not self.live[i]:
                        continue
                    token = int(input_ids[i, -1])
                    if self.matchers[i].is_terminated():
                        self.live[i] = False
                    elif not self.matchers[i].accept_token(token):
                        if token not in self.end_ids:
                            raise EngineError(f"row {i}: token {token} violates the output grammar (internal error)")
                        self.live[i] = False
            for i in range(rows):
                if self.live[i] and not self.matchers[i].is_terminated():
                    self.matchers[i].fill_next_token_bitmask(self.bitmask, i)
                else:
                    self.bitmask[i].fill_(-1)  # all bits set: no mask for a finished row
            device = scores.device
            masked = scores.to("cpu") if device.type not in ("cpu", "cuda") else scores
            xgr.apply_token_bitmask_inplace(masked, self.bitmask.to(masked.device))
            return masked.to(device)

    _CLASS = GrammarLogitsProcessor
    return _CLASS
