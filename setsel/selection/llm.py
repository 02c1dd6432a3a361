"""What every LLM selection method shares: its options, its engine, and turning stage results into Selections.

:class:`LLMOptions` adds to the common options (:class:`~setsel.selection.base.SelectorOptions`):

- ``model``: engine model id (``hf:smollm2-135m`` by default, any ``hf:``/``vllm:``/``openai:`` id);
- ``engine``: an already loaded engine to use instead (the serve app and benchmarks share one);
- ``batch_size``: rows per forward batch when this selector loads its own engine and that
  engine takes one (``hf:``; vLLM and OpenAI-compatible servers schedule their own batches);
- ``engine_options``: other options for :func:`setsel.engines.load_engine` (e.g.
  ``{"num_threads": 1}`` on the hf engine, ``{"adapter": "runs/sft/adapter"}``);
- ``constrained``: two-phase decoding with the selection grammar (``False``: one free
  generation, parsed as is — for measuring parse failures without constraints);
- ``reasoning_tokens``: the phase-1 reasoning budget (IRI / CoT / OptiSet stages);
- ``max_words`` / ``min_words``: per-passage word budget, and the floor below which a pool
  that does not fit the context is split into chunks (:mod:`setsel.selection.chunking`).

:class:`LLMSelector` loads the engine on first use, builds :class:`DecodeConfig` and
:class:`StageLimits`, and turns a :class:`~setsel.selection.stages.StageResult` into a
:class:`~setsel.types.Selection`: ids mapped back to passage ids, raw outputs and
reasoning of every prompt, usage summed over stages and phases, and — when nothing usable
was parsed — the configured fallback, recorded in ``fallback_used``.

Example:
    >>> opts = LLMOptions(k=3, constrained=False)
    >>> opts.fallback, opts.model
    ('topk:3', 'hf:smollm2-135m')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from setsel.engines.registry import DEFAULT_MODEL
from setsel.selection.base import Selector, SelectorError, SelectorOptions, check_positive_int
from setsel.selection.decoding import DecodeConfig
from setsel.selection.stages import StageLimits, StageResult
from setsel.text import DEFAULT_MAX_WORDS
from setsel.types import Candidates, Selection


@dataclass
class LLMOptions(SelectorOptions):
    """Options of every LLM selection method (see the module docstring)."""

    model: str = DEFAULT_MODEL
    engine: Any = None
    batch_size: int = 8
    engine_options: dict = field(default_factory=dict)
    constrained: bool = True
    reasoning_tokens: int = 256
    max_words: int = DEFAULT_MAX_WORDS
    min_words: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("batch_size", "reasoning_tokens", "max_words", "min_words"):
            check_positive_int(name, getattr(self, name), allow_none=False)
        if not isinstance(self.engine_options, dict) or "batch_size" in self.engine_options:
            raise SelectorError(f"engine_options must be a mapping without batch_size, got {self.engine_options!r}")
        if not isinstance(self.constrained, bool):
            raise SelectorError(f"constrained must be true or false, got {self.constrained!r}")
        if self.engine is None and (not isinstance(self.model, str) or ":" not in self.model):
            raise SelectorError(f"model must be an engine id like {DEFAULT_MODEL!r}, got {self.model!r}")


def engine_takes(model_id: str, option: str) -> bool:
    """Whether the engine class of ``model_id`` names ``option`` in its constructor.

    >>> engine_takes("hf:smollm2-135m", "batch_size"), engine_takes("openai:m@http://127.0.0.1:1", "batch_size")
    (True, False)
    """
    import importlib
    import inspect

    from setsel.engines.registry import ENGINES, parse_model_id

    module, cls = ENGINES[parse_model_id(model_id)[0]]
    return option in inspect.signature(getattr(importlib.import_module(module), cls).__init__).parameters


class LLMSelector(Selector):
    """Base of the LLM methods: engine handling and Selection assembly."""

    options_cls: ClassVar[type[SelectorOptions]] = LLMOptions
    uses_llm: ClassVar[bool] = True

    def __init__(self, options: SelectorOptions | None = None) -> None:
        super().__init__(options)
        self._engine = self.options.engine
        self._owns_engine = False

    @property
    def engine(self) -> Any:
        """The engine (loaded from ``model`` on first use unless one was given)."""
        if self._engine is None:
            from setsel.engines import load_engine

            options = dict(self.options.engine_options)
            if engine_takes(self.options.model, "batch_size"):
                options["batch_size"] = self.options.batch_size
            self._engine = load_engine(self.options.model, **options)
            self._owns_engine = True
        return self._engine

    def decode_config(self, reasoning: bool) -> DecodeConfig:
        o = self.options
        return DecodeConfig(reasoning=reasoning, constrained=o.constrained, reasoning_tokens=o.reasoning_tokens,
                            max_passages=o.max_passages)

    @property
    def limits(self) -> StageLimits:
        return StageLimits(max_words=self.options.max_words, min_words=self.options.min_words)

    @property
    def label(self) -> str:
        """The ``Selection.method`` value (the registry name; subclasses add their variant)."""
        return self.name

    def to_selection(
        self, cand: Candidates, result: StageResult, ids: list[str] | None = None, extra_raw: list[str] | None = None
    ) -> Selection:
        """A Selection from a stage result (``ids`` overrides the mapped positions).

        ``extra_raw`` are earlier stages' outputs to keep (e.g. the expansion), already labelled.
        """
        if ids is None:
            ids = [cand.passages[p].id for p in result.positions]
        sel = Selection(
            query_id=cand.query.id,
            method=self.label,
            selected_ids=ids,
            ordered=False,
            raw_output="\n\n".join([*(extra_raw or []), *result.outputs]),
            reasoning="\n\n".join(result.reasoning),
            parse_status=result.status if ids or result.status == "failed" else "failed",
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            problems=list(result.problems),
        )
        if sel.parse_status == "failed" or not ids:
            sel.parse_status = "failed"
            sel.selected_ids = self.options.fallback_ids(cand)
            sel.fallback_used = self.options.fallback
        return sel

    def close(self) -> None:
        """Close the engine if this selector loaded it (a given engine belongs to the caller)."""
        if self._owns_engine and self._engine is not None:
            self._engine.close()
        self._engine = None if self._owns_engine else self._engine
        self._owns_engine = False
