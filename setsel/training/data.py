"""Training examples and their collation into one forward pass (DESIGN §8).

A :class:`TrainExample` is one synthesised question (OptiSet §3.2 output): the question,
its candidate passages *in the (permuted) order shown to the model*, ``m`` target sets as
lists of 1-based positions in that order, their preference scores ``P`` (OptiSet Eq. 8)
and, for SetR-style SFT, the teacher's full output. Files are JSONL or Parquet written with
:func:`setsel.io.write_records` (record kind ``TrainExample``); :func:`read_examples` reads
them back.

:class:`Collator` renders the selector prompt (OptiSet Appendix E Table 9, template
``optiset_train``; ``setr_iri`` for SetR SFT with teacher reasoning) through the
tokenizer's chat template and stacks the ``m`` (prompt + target) sequences of each
example into one batch, so every set of every example is scored in ONE forward pass.
``target_mask`` marks the target tokens (the assistant reply, its end-of-turn token
included); prompts and padding never count. When a prompt is too long, the per-passage
word budget shrinks (:func:`setsel.text.fit_word_budget`); targets are never cut.

Example:
    ex = TrainExample(query_id="q1", question="Who?", passages=[...], sets=[[2, 1], [3]], P=[0.9, -0.6])
    col = Collator(tokenizer, max_length=1024, sets="all")
    batch = col([ex])   # input_ids (2, T), target_mask (2, T), P (1, 2), set_mask (1, 2), ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setsel.prompts.selection_format import SELECTION
from setsel.text import DEFAULT_MAX_WORDS, fit_word_budget
from setsel.types import TrainExample  # re-exported: setsel.training.data.TrainExample still works

SET_CHOICES = ("all", "best", "best_worst")
TARGET_CHOICES = ("selection", "teacher")
SELECTION_HEADER = SELECTION.header


def selection_target(ids: Sequence[int]) -> str:
    """``[2, 1]`` → ``"### Final Selection: [2] [1]"`` (the OptiSet training target,
    :meth:`SelectionFormat.render <setsel.prompts.selection_format.SelectionFormat.render>`)."""
    if not ids:
        raise ValueError("a target set needs at least one passage id")
    return SELECTION.render(ids)


def read_examples(path: str | Path) -> list[TrainExample]:
    """Read ``TrainExample`` records from a ``.jsonl`` or ``.parquet`` file."""
    from setsel.io import read_records

    return read_records(path, TrainExample)


def usable(example: TrainExample, sets: str, target: str) -> str | None:
    """Why ``example`` cannot train under (``sets``, ``target``), or ``None`` if it can."""
    if target == "teacher":
        return None if example.teacher_output else "no teacher_output"
    if not example.sets:
        return "no sets"
    if sets in ("all", "best_worst") and len(example.P) != len(example.sets):
        return "no P values"
    if sets == "best_worst" and (len(example.sets) < 2 or max(example.P) == min(example.P)):
        return "needs two sets with different P"
    return None


def select_examples(examples: Sequence[TrainExample], sets: str, target: str, max_copies: int | None = None,
                    limit: int | None = None) -> list[TrainExample]:
    """The examples a run trains on, in file order: usable ones (:func:`usable`), at most
    ``max_copies`` permuted copies per question (``metadata["copy"]`` < ``max_copies``;
    examples without a copy number count as copy 0), then the first ``limit``.

    Example:
        >>> [e.query_id for e in select_examples(examples, "all", "selection", max_copies=1)]  # doctest: +SKIP
        ['q1@0', 'q2@0']
    """
    kept = [e for e in examples if usable(e, sets, target) is None
            and (max_copies is None or int((e.metadata or {}).get("copy", 0)) < max_copies)]
    return kept[:limit] if limit else kept


@dataclass
class EncodedExample:
    """Token ids of one example: a prompt and one target per chosen set."""

    prompt_ids: list[int]
    target_ids: list[list[int]]
    P: list[float]
    best: int
    worst: int
    words_per_passage: int | None


class Collator:
    """Turn :class:`TrainExample` lists into padded tensors for one forward pass.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template (pad token optional).
        template: prompt template name (:func:`setsel.prompts.render`).
        max_length: longest sequence in tokens; the prompt shrinks to fit, targets never.
        sets: ``"all"`` (setlist: every set), ``"best"`` (SFT on s*), ``"best_worst"``
            (DPO: slot 0 = best, slot 1 = worst).
        target: ``"selection"`` (``### Final Selection: [i] [j]``) or ``"teacher"``
            (the teacher's full output; one target per example).
        padding_side: ``"left"`` (targets end-aligned: the trainer then computes logits
            for the last few positions only) or ``"right"``.
        max_sets: keep at most this many sets per example (s* always kept).
        max_words: starting per-passage word budget.

    ``__call__`` returns: ``input_ids``, ``attention_mask``, ``position_ids``,
    ``target_mask`` — ``(S, T)`` over the S stacked sequences; ``example_index``,
    ``set_slot`` — ``(S,)``, which example and slot each row is; ``P``, ``set_mask`` —
    ``(N, m)``; ``best``, ``worst`` — ``(N,)`` slot indices.
    """

    def __init__(
        self,
        tokenizer: Any,
        template: str = "optiset_train",
        max_length: int = 2048,
        sets: str = "all",
        target: str = "selection",
        padding_side: str = "left",
        max_sets: int | None = None,
        max_words: int | None = DEFAULT_MAX_WORDS,
    ):
        if sets not in SET_CHOICES:
            raise ValueError(f"sets must be one of {SET_CHOICES}, got {sets!r}")
        if target not in TARGET_CHOICES:
            raise ValueError(f"target must be one of {TARGET_CHOICES}, got {target!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = int(max_length)
        self.sets = "best" if target == "teacher" else sets
        self.target = target
        self.padding_side = padding_side
        self.max_sets = max_sets
        self.max_words = max_words
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None:
            raise ValueError("tokenizer has neither a pad nor an eos token")
        self.pad_id = int(pad)

    # ------------------------------------------------------------------ text
    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _messages(self, ex: TrainExample, words: int | None) -> list[dict[str, str]]:
        try:
            from setsel.prompts import render
        except ImportError as exc:  # the prompts module is part of setsel; a clear error if it is broken
            raise RuntimeError(f"setsel.prompts is needed to render training prompts: {exc}") from exc
        return render(self.template, question=ex.question, passages=ex.passages, max_words=words)

    def prompt_text(self, ex: TrainExample, words: int | None) -> str:
        """The chat-formatted prompt, ending with the assistant turn's opening."""
        return self.tokenizer.apply_chat_template(self._messages(ex, words), tokenize=False, add_generation_prompt=True)

    def completion_text(self, ex: TrainExample, reply: str) -> str:
        """The assistant reply as the chat template closes it (e.g. ``reply<|im_end|>\\n``)."""
        msgs = self._messages(ex, 1) + [{"role": "assistant", "content": reply}]
        full = self.tokenizer.apply_chat_template(msgs, tokenize=False)
        head = self.prompt_text(ex, 1)
        if full.startswith(head) and reply in full[len(head):]:
            return full[len(head):]
        return reply + (self.tokenizer.eos_token or "")

    def _chosen(self, ex: TrainExample) -> list[int]:
        best, worst = ex.best_index, ex.worst_index
        if self.sets == "best":
            return [best]
        if self.sets == "best_worst":
            return [best, worst]
        order = [best] + [i for i in range(len(ex.sets)) if i != best]
        if self.max_sets is not None:
            order = order[: max(1, self.max_sets)]
        return sorted(order)

    def encode(self, ex: TrainExample) -> EncodedExample:
        """Tokenise one example (prompt shrunk to fit; raises if it cannot be used)."""
        reason = usable(ex, self.sets, self.target)
        if reason:
            raise ValueError(f"example {ex.query_id} cannot train with sets={self.sets}, target={self.target}: {reason}")
        chosen = [0] if self.target == "teacher" else self._chosen(ex)
        replies = [ex.teacher_output] if self.target == "teacher" else [selection_target(ex.sets[i]) for i in chosen]
        targets = [self._encode(self.completion_text(ex, r)) for r in replies]
        budget = self.max_length - max(len(t) for t in targets)
        if budget < 16:
            raise ValueError(f"example {ex.query_id}: a target of {max(len(t) for t in targets)} tokens leaves no room "
                             f"for the prompt in max_length={self.max_length}")
        words = self.max_words
        if len(self._encode(self.prompt_text(ex, words))) > budget:
            start = words if words is not None else max(len(p.text.split()) for p in ex.passages)
            _, words = fit_word_budget(lambda w: self.prompt_text(ex, w), lambda t: len(self._encode(t)), budget,
                                       start_words=start, min_words=1)
        prompt_ids = self._encode(self.prompt_text(ex, words))
        P = [ex.P[i] for i in chosen] if ex.P and self.target != "teacher" else [0.0] * len(chosen)
        if self.sets == "best_worst":
            best_slot, worst_slot = 0, 1
        else:
            best_slot = chosen.index(ex.best_index) if ex.best_index in chosen else 0
            worst_slot = chosen.index(ex.worst_index) if ex.worst_index in chosen else 0
        return EncodedExample(prompt_ids, targets, P, best_slot, worst_slot, words)

    # ------------------------------------------------------------------ tensors
    def collate(self, encoded: Sequence[EncodedExample]) -> dict[str, Any]:
        """Stack and pad encoded examples (see the class docstring for the keys)."""
        import torch

        if not encoded:
            raise ValueError("collate: empty batch")
        rows, masks, ex_idx, slots = [], [], [], []
        for n, enc in enumerate(encoded):
            for slot, tgt in enumerate(enc.target_ids):
                rows.append(enc.prompt_ids + tgt)
                masks.append([0] * len(enc.prompt_ids) + [1] * len(tgt))
                ex_idx.append(n)
                slots.append(slot)
        width = max(len(r) for r in rows)
        m = max(len(e.target_ids) for e in encoded)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        target = torch.zeros((len(rows), width), dtype=torch.bool)
        for r, (ids, tm) in enumerate(zip(rows, masks)):
            sl = slice(width - len(ids), width) if self.padding_side == "left" else slice(0, len(ids))
            input_ids[r, sl] = torch.tensor(ids)
            attention[r, sl] = 1
            target[r, sl] = torch.tensor(tm, dtype=torch.bool)
        position_ids = (attention.cumsum(-1) - 1).clamp(min=0)
        P = torch.zeros((len(encoded), m), dtype=torch.float32)
        set_mask = torch.zeros((len(encoded), m), dtype=torch.bool)
        for n, enc in enumerate(encoded):
            P[n, : len(enc.P)] = torch.tensor(enc.P, dtype=torch.float32)
            set_mask[n, : len(enc.target_ids)] = True
        return {
            "input_ids": input_ids,
            "attention_mask": attention,
            "position_ids": position_ids,
            "target_mask": target,
            "example_index": torch.tensor(ex_idx, dtype=torch.long),
            "set_slot": torch.tensor(slots, dtype=torch.long),
            "P": P,
            "set_mask": set_mask,
            "best": torch.tensor([e.best for e in encoded], dtype=torch.long),
            "worst": torch.tensor([e.worst for e in encoded], dtype=torch.long),
        }

    def __call__(self, examples: Sequence[TrainExample]) -> dict[str, Any]:
        return self.collate([self.encode(e) for e in examples])
