"""``cross_encoder``: pointwise cross-encoder relevance scores, then the top ``k``.

Any Hugging Face sequence-classification model works (a local folder, or a hub id when
``HF_HUB_OFFLINE`` is unset): it is loaded with transformers
``AutoModelForSequenceClassification`` and scores each ``(question, "title: text")`` pair;
with one output label that logit is the score, with several the last label's logit
(the "relevant" class of binary rerankers). Passages are ranked by score (ties keep pool
order) and the first ``k`` are selected (``max_passages`` caps ``k``).

Batching: all pairs of all questions are scored together, ``batch_size`` pairs per
forward pass, longest first.

Options: ``model`` (required: there is no embedded cross-encoder), ``batch_size``,
``max_length`` (tokens per pair, default 512), ``device``.

Example:
    >>> sel = get_selector("cross_encoder", model="/models/ms-marco-MiniLM-L-6-v2", k=3)  # doctest: +SKIP
    >>> sel.select(candidates)[0].selected_ids                                            # doctest: +SKIP
    ['p7', 'p1', 'p4']
    >>> rank_by_scores([0.1, 0.9, 0.5, 0.9])
    [1, 3, 2, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from setsel.selection import register_selector
from setsel.selection.base import Selector, SelectorError, SelectorOptions, _positive_int
from setsel.selection.mmr import passage_text
from setsel.types import Candidates, Selection


def rank_by_scores(scores: list[float]) -> list[int]:
    """Indices by decreasing score; equal scores keep their original order."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


@dataclass
class CrossEncoderOptions(SelectorOptions):
    """Common options plus the model and its batching."""

    model: str | None = None
    batch_size: int = 32
    max_length: int = 512
    device: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.model, str) or not self.model.strip():
            raise SelectorError("cross_encoder needs model=<a cross-encoder folder or hub id>")
        _positive_int("batch_size", self.batch_size, allow_none=False)
        _positive_int("max_length", self.max_length, allow_none=False)


@register_selector("cross_encoder")
class CrossEncoder(Selector):
    """Top-k by cross-encoder score (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = CrossEncoderOptions

    def __init__(self, options: SelectorOptions | None = None) -> None:
        super().__init__(options)
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        name = self.options.model
        model_id = name.removeprefix("hf:")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model_id)
            self._model = AutoModelForSequenceClassification.from_pretrained(model_id)
        except (OSError, ValueError) as exc:
            raise SelectorError(f"cross_encoder: could not load {name!r}: {exc}") from None
        device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model.to(device).eval()

    def score(self, pairs: list[tuple[str, str]]) -> list[float]:
        """Relevance score of each ``(question, passage text)`` pair."""
        import torch

        self._load()
        scores = [0.0] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][1]))
        device = next(self._model.parameters()).device
        for start in range(0, len(order), self.options.batch_size):
            idx = order[start : start + self.options.batch_size]
            enc = self._tokenizer([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], padding=True,
                                  truncation=True, max_length=self.options.max_length, return_tensors="pt")
            with torch.inference_mode():
                logits = self._model(**enc.to(device)).logits.float()
            for i, value in zip(idx, logits[:, -1].tolist()):
                scores[i] = float(value)
        return scores

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        o = self.options
        k = o.k if o.max_passages is None else min(o.k, o.max_passages)
        pairs = [(c.query.question, passage_text(p)) for c in batch for p in c.passages]
        scores = self.score(pairs) if pairs else []
        out, start = [], 0
        for c in batch:
            n = len(c.passages)
            order = rank_by_scores(scores[start : start + n])[:k]
            start += n
            out.append(Selection(query_id=c.query.id, method=self.name, selected_ids=[c.passages[i].id for i in order],
                                 ordered=True, parse_status="ok"))
        return out

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
