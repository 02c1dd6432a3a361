"""The selection format, owned by one object: ``### Final Selection: [i] [j]`` (issue 20, item 4).

:data:`SELECTION` renders the training target, builds the decoding constraint, gives the
stop marker of the reasoning phase, asks the phase-2 question and parses the reply, so the
format a selector is trained on, constrained to and parsed with cannot drift apart (dspy's
"one object owns a format"). The paper prompts (``setr_*``, ``optiset_*`` templates) spell the
format in their own words, as the papers do; a test checks they name :attr:`SelectionFormat.header`.

Pure: imports only :mod:`setsel.types` and the parser.

Example:
    >>> SELECTION.render([2, 1])
    '### Final Selection: [2] [1]'
    >>> SELECTION.parse("Step 1 …\\n### Final Selection: [2] [1]", 3).ids
    [2, 1]
    >>> SELECTION.constraint(3, 2).to_regex()
    '### Final Selection:( \\\\[(3|2|1)\\\\]){1,2}'
    >>> SELECTION.request(3)
    "Now output only your final selection of at most 3 passages, in the format '### Final Selection: [] []'."
    >>> SELECTION.stop, SELECTION.tokens(5)
    ('### Final Selection', 38)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from setsel.prompts.parse import ParsedSelection, parse_selection
from setsel.types import SelectionConstraint


@dataclass(frozen=True)
class SelectionFormat:
    """A selection line: ``header`` then bracketed 1-based passage ids.

    Attributes:
        header: what starts the line (the parser also accepts looser spellings).
        request_template: the phase-2 user turn (after free reasoning), with ``{budget}``
            (" of at most N passages" or nothing) and ``{header}``.
        tokens_base / tokens_per_id: generation budget of a line with N ids
            (``tokens_base + tokens_per_id · N``; SmolLM2's tokenizer writes `` [12]`` in ≤ 4
            tokens, the rest is slack for the header and the end of turn).
    """

    header: str = "### Final Selection:"
    request_template: str = "Now output only your final selection{budget}, in the format '{header} [] []'."
    tokens_base: int = 8
    tokens_per_id: int = 6

    @property
    def stop(self) -> str:
        """The marker that ends free reasoning (phase 1): the header without its colon."""
        return self.header.rstrip(":")

    def render(self, ids: Sequence[int]) -> str:
        """The line for ``ids`` (1-based): the training target of a selection-only selector."""
        if not ids:
            raise ValueError("a selection needs at least one passage id")
        return self.header + "".join(f" [{int(i)}]" for i in ids)

    def parse(self, text: str | None, num_candidates: int) -> ParsedSelection:
        """The ids of a model reply (:func:`setsel.prompts.parse.parse_selection`: tolerant)."""
        return parse_selection(text, num_candidates)

    def constraint(self, num_candidates: int, max_passages: int | None = None) -> SelectionConstraint:
        """The decoding grammar: this header, 1 ≤ id ≤ ``num_candidates``, at most ``max_passages`` ids."""
        return SelectionConstraint(num_candidates, max_passages, header=self.header)

    def request(self, max_passages: int | None = None) -> str:
        """The phase-2 user turn that asks for the selection line after the reasoning."""
        budget = "" if max_passages is None else f" of at most {max_passages} passage{'s' if max_passages > 1 else ''}"
        return self.request_template.format(budget=budget, header=self.header)

    def tokens(self, limit: int) -> int:
        """Generation budget of a selection line with up to ``limit`` ids."""
        return self.tokens_base + self.tokens_per_id * max(1, int(limit))


SELECTION = SelectionFormat()
"""The format every selector, trainer and parser in setsel uses."""
