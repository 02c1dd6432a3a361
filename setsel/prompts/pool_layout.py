"""The input layout of the ``llm_head`` selector: one sequence per pool, marker positions per passage. Pure.

SetR's distilled selector reads the question and the whole pool and writes
``### Final Selection: [i] [j]``. Generated ids proved the weak point at 135M parameters:
trained on gold sets the model learned *positions* (``[1] [2]``), not passages. ``llm_head``
keeps SetR's input — the question and every passage, in one causal pass — and replaces the
generated ids by one relevance logit per passage, read by a small head from two hidden
states of that passage:

- the **end** of the passage in the pool (it has read the question and every earlier passage);
- the end of its **recap** line after the pool (``[i] <title>``, which has read the whole pool,
  so a second-hop passage placed first still sees the bridge passage placed later).

This object owns the layout, so training and selection cannot drift: the same segments
are tokenised one by one and concatenated, and the positions are counted, not searched::

    Question: <q>
    Known: <title>: <text>        (only with a known passage: the second-hop read)
    Passages:
    [1] <title>: <text, first max_words words>
    ...
    [n] <title>: <text>
    Question: <q>
    Needed passages:
     [1] <title>
     ...
     [n] <title>

The **second-hop read** (Beam Retrieval's recipe: score the pool again given one passage already
chosen) shows that passage on a ``Known:`` line before the pool and leaves it out of the
pool; without a known passage the tokens are exactly the plain layout's.

Passage text is cleaned as in every prompt (:func:`setsel.text.clean_passage_text`: ``[n]``
inside passages becomes ``(n)``, planted "### Final Selection" markers are neutralised). A
passage with no title uses its first ``recap_words`` words in the recap line.

Example:
    >>> layout = PoolLayout(max_words=3)
    >>> seq = layout.encode("Who?", [("A", "x y z w"), ("", "u v")], tokenize=lambda s: s.split())
    >>> seq.tokens[seq.end_positions[0]], seq.tokens[seq.recap_positions[1]]
    ('z', 'v')
    >>> len(seq.tokens) == seq.length
    True
    >>> pinned = layout.encode("Who?", [("", "u v")], tokenize=lambda s: s.split(), known=("A", "x y z w"))
    >>> " ".join(pinned.tokens[:8]), pinned.tokens[pinned.end_positions[0]]
    ('Question: Who? Known: A: x y z Passages:', 'v')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from setsel.text import clean_passage_text, truncate_words

#: Version of the layout; a trained head records it and refuses another.
LAYOUT_VERSION = 1


@dataclass
class PoolSequence:
    """One encoded pool: ``tokens`` (ids) and, per passage, the index of its last pool token and of
    its last recap token."""

    tokens: list
    end_positions: list[int]
    recap_positions: list[int]

    @property
    def length(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class PoolLayout:
    """Renders a pool for ``llm_head`` and records where each passage's markers are.

    Attributes:
        max_words: words of each passage's text kept (``None`` = all).
        recap_words: words of the text used as the recap label when a passage has no title.
    """

    max_words: int | None = 60
    recap_words: int = 8

    def passage_segment(self, index: int, title: str, text: str) -> str:
        """``"[i] title: text"`` with the cleaned, truncated text (``"[i] text"`` without a title)."""
        body = truncate_words(clean_passage_text(text), self.max_words)
        title = clean_passage_text(title).strip()
        return f"[{index}] {title}: {body}" if title else f"[{index}] {body}"

    def known_segment(self, title: str, text: str) -> str:
        """``"title: text"`` (cleaned, truncated) for the ``Known:`` line."""
        body = truncate_words(clean_passage_text(text), self.max_words)
        title = clean_passage_text(title).strip()
        return f"{title}: {body}" if title else body

    def recap_segment(self, index: int, title: str, text: str) -> str:
        """``" [i] title"`` (the first ``recap_words`` words of the text when there is no title)."""
        label = clean_passage_text(title).strip() or truncate_words(clean_passage_text(text), self.recap_words)
        return f" [{index}] {label}"

    def encode(self, question: str, passages: Sequence[tuple[str, str]],
               tokenize: Callable[[str], list], known: tuple[str, str] | None = None) -> PoolSequence:
        """Tokenise the layout segment by segment.

        Args:
            question: the question text.
            passages: ``(title, text)`` per passage, in the order shown.
            tokenize: text → token ids without special tokens (e.g.
                ``lambda s: tok.encode(s, add_special_tokens=False)``).
            known: ``(title, text)`` of a passage already chosen, shown on a ``Known:`` line
                (it must not be in ``passages``); ``None`` = the plain layout.

        Returns:
            A :class:`PoolSequence`; a segment that tokenises to nothing still gets a position
            (its last token is then the preceding newline's).
        """
        q = clean_passage_text(question).strip()
        tokens: list = []

        def add(text: str) -> int:
            tokens.extend(tokenize(text))
            return len(tokens) - 1

        if known is None:
            add(f"Question: {q}\nPassages:\n")
        else:
            add(f"Question: {q}\nKnown: {self.known_segment(*known)}\nPassages:\n")
        ends = []
        for i, (title, text) in enumerate(passages, 1):
            ends.append(add(self.passage_segment(i, title, text)))
            add("\n")
        add(f"Question: {q}\nNeeded passages:\n")
        recaps = []
        for i, (title, text) in enumerate(passages, 1):
            recaps.append(add(self.recap_segment(i, title, text)))
            add("\n")
        return PoolSequence(tokens=tokens, end_positions=ends, recap_positions=recaps)
