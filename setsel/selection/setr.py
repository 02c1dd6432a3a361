"""``setr``: SetR zero-shot set selection (SetR §3), variants ``iri | cot | selection_only``.

- ``iri`` (default): Information Requirement Identification — list the requirements, find
  passages for each, choose a set that covers them (template ``setr_iri``);
- ``cot``: "Let's think step by step." then the final selection (``setr_cot``);
- ``selection_only``: output only the final selection (``setr_selection_only``).
- ``trained``: a selector fine-tuned by ``setsel train`` — the training prompt
  (``optiset_train``, OptiSet Table 9), selection only; use it with the adapter's model id.
- ``trained_titles`` / ``trained_judgements``: the same prompt, answered as the gold teacher's
  reasoning targets were written (``setsel/synthesis/gold.py``): the needed titles, or a yes/no
  line per passage, then the selection — decoded in one free generation by default. A
  selector registered in ``setsel.engines.models.SHIPPED_ADAPTERS`` reads passages cut to the
  words it was trained on unless ``max_words`` is given (none ships yet: docs/training.md).

The reasoning variants decode in two phases (free reasoning up to ``reasoning_tokens``,
then the selection under the grammar constraint); ``selection_only`` is constrained
directly; ``constrained=False`` makes one free generation parsed as is
(:mod:`setsel.selection.decoding`). The whole batch is one stage: one engine call per
phase, every question's prompt (or prompts, for pools larger than the context: the pool
is split, each chunk selected, and the union re-selected in one more batched call) in it.
A fine-tuned selector is just another ``model`` id (an adapter on the hf engine).

Example:
    >>> from setsel.selection import get_selector
    >>> sel = get_selector("setr", variant="selection_only", max_passages=3)
    >>> sel.options.variant, sel.template
    ('selection_only', 'setr_selection_only')
    >>> sel.select(candidates)[0].selected_ids   # doctest: +SKIP
    ['5a7bbb64554299042af8f7cc#0', '5a7bbb64554299042af8f7cc#3']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from setsel.selection import register_selector
from setsel.selection.base import SelectorError, SelectorOptions
from setsel.selection.llm import LLMOptions, LLMSelector
from setsel.selection.stages import Job, run_stage
from setsel.text import DEFAULT_MAX_WORDS
from setsel.types import Candidates, Selection

# variant -> (template, reasons before selecting)
VARIANTS: dict[str, tuple[str, bool]] = {
    "iri": ("setr_iri", True),
    "cot": ("setr_cot", True),
    "selection_only": ("setr_selection_only", False),
    # A selector trained by setsel train (OptiSet §3.3): the training prompt (OptiSet Table 9),
    # answered with the selection only, exactly as the collator rendered it in training.
    "trained": ("optiset_train", False),
    # Trained with the gold teacher's `titles` target (setsel/synthesis/gold.py): the model first
    # names the needed passages' titles, then selects. Reasoning first; run it with
    # constrained=False (one generation, as trained) or two-phase.
    "trained_titles": ("optiset_train", True),
    # Trained with the gold teacher's `judgements` target (configs/train_gold_judgements.yaml):
    # a yes/no line per passage, then the selection. Same decoding as trained_titles.
    "trained_judgements": ("optiset_train", True),
}
# Variants trained to write their reasoning and selection in one reply: decoded by default in
# one free generation (constrained=False), exactly as trained; the two-phase path would add a
# follow-up turn they never saw. A reply without a parsable selection falls back (counted).
ONE_GENERATION = frozenset({"trained_titles", "trained_judgements"})


@dataclass
class SetROptions(LLMOptions):
    """:class:`~setsel.selection.llm.LLMOptions` plus ``variant``."""

    variant: str = "iri"
    # None: the variant's own decoding — one free generation for ONE_GENERATION, else two-phase
    constrained: bool | None = None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise SelectorError(f"setr variant must be one of {sorted(VARIANTS)}, got {self.variant!r}")
        if self.constrained is None:
            self.constrained = self.variant not in ONE_GENERATION
        super().__post_init__()
        if self.variant.startswith("trained") and self.max_words == DEFAULT_MAX_WORDS and isinstance(self.model, str):
            # A shipped selector reads passages cut as in its training (unless max_words is set).
            from setsel.engines.models import shipped_max_words

            self.max_words = shipped_max_words(self.model) or self.max_words


@register_selector("setr")
class SetR(LLMSelector):
    """SetR set selection with any engine (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = SetROptions

    @property
    def template(self) -> str:
        return VARIANTS[self.options.variant][0]

    @property
    def label(self) -> str:
        return f"{self.name}:{self.options.variant}"

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        template, reasoning = VARIANTS[self.options.variant]
        jobs = [Job(question=c.query.question, passages=c.passages, template=template) for c in batch]
        results = run_stage(self.engine, jobs, self.decode_config(reasoning), self.limits) if jobs else []
        return [self.to_selection(c, r) for c, r in zip(batch, results)]
