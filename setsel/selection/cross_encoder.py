"""``cross_encoder``: pointwise cross-encoder relevance scores, then the top ``k`` or a threshold.

Any Hugging Face sequence-classification model works (a local folder, or a hub id when
``HF_HUB_OFFLINE`` is unset): it is loaded with transformers
``AutoModelForSequenceClassification`` and scores each ``(question, "title: text")`` pair;
with one output label that logit is the score, with several the last label's logit
(the "relevant" class of binary rerankers). Passages are ranked by score (ties keep pool
order). Then:

- **without a threshold** (as before): the first ``k`` are selected (``max_passages`` caps ``k``);
- **with a threshold** (:func:`select_by_threshold`): every passage scoring ``≥ threshold``,
  in score order, at least one (the best) and at most the cap. ``k`` is not used then.
  The cap is ``max_passages`` when given, else the model folder's ``max_passages``
  (``setsel_selector.json``), else none.

The threshold is the ``threshold`` option or, when that is ``None``, the one in the model
folder's ``setsel_selector.json`` — written by ``setsel train-cross-encoder``
(:mod:`setsel.training.cross_encoder`), which trains MiniLM on gold labels and tunes the
threshold for set F1 on held-out training questions. Scores are raw logits, the same
numbers the threshold was tuned on. A folder without that file ranks top-``k``.

Batching: all pairs of all questions are scored together, ``batch_size`` pairs per
forward pass, longest first.

Options: ``model`` (required: there is no embedded cross-encoder), ``threshold``,
``batch_size``, ``max_length`` (tokens per pair; default the folder's ``max_length`` in
``setsel_selector.json``, else 512), ``device``.

Example:
    >>> sel = get_selector("cross_encoder", model="runs/cross_encoder")   # trained: json threshold  # doctest: +SKIP
    >>> sel = get_selector("cross_encoder", model="/models/ms-marco-MiniLM-L-6-v2", k=3)  # doctest: +SKIP
    >>> sel.select(candidates)[0].selected_ids                                            # doctest: +SKIP
    ['p7', 'p1', 'p4']
    >>> rank_by_scores([0.1, 0.9, 0.5, 0.9])
    [1, 3, 2, 0]
    >>> select_by_threshold([0.1, 0.9, 0.5, 0.9], 0.5), select_by_threshold([0.1, 0.2], 0.5, cap=1)
    ([1, 3, 2], [1])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from setsel.selection import register_selector
from setsel.selection.base import Selector, SelectorError, SelectorOptions, check_positive_int
from setsel.selection.mmr import passage_text
from setsel.types import Candidates, Selection

SELECTOR_FILE = "setsel_selector.json"


def rank_by_scores(scores: list[float]) -> list[int]:
    """Indices by decreasing score; equal scores keep their original order."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def select_by_threshold(scores: list[float], threshold: float, cap: int | None = None, floor: int = 1) -> list[int]:
    """Indices scoring ``≥ threshold`` by decreasing score: at least the best ``floor`` (1), at most ``cap``.

    >>> select_by_threshold([0.1, 0.9, 0.5], 0.8, floor=2), select_by_threshold([0.1, 0.9], 0.0, cap=3, floor=3)
    ([1, 2], [1, 0])
    """
    order = rank_by_scores(scores)
    n = max(sum(1 for s in scores if s >= threshold), floor)
    n = min(n, len(order))
    return order[: n if cap is None else min(n, cap)]


def read_selector_file(model: str) -> dict[str, Any]:
    """The folder's ``setsel_selector.json`` (``{}`` when ``model`` is no folder or has none)."""
    path = Path(model) / SELECTOR_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SelectorError(f"cross_encoder: unreadable {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("threshold"), (int, float)):
        raise SelectorError(f"cross_encoder: {path} has no numeric 'threshold'")
    return data


@dataclass
class CrossEncoderOptions(SelectorOptions):
    """Common options plus the model, an optional score threshold and batching."""

    model: str | None = None
    threshold: float | None = None
    batch_size: int = 32
    max_length: int | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.model, str) or not self.model.strip():
            raise SelectorError("cross_encoder needs model=<a cross-encoder folder or hub id>")
        if self.threshold is not None and (isinstance(self.threshold, bool)
                                           or not isinstance(self.threshold, (int, float))):
            raise SelectorError(f"threshold must be a number or None, got {self.threshold!r}")
        check_positive_int("batch_size", self.batch_size, allow_none=False)
        check_positive_int("max_length", self.max_length, allow_none=True)


@register_selector("cross_encoder")
class CrossEncoder(Selector):
    """Top-k or thresholded selection by cross-encoder score (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = CrossEncoderOptions

    def __init__(self, options: SelectorOptions | None = None) -> None:
        super().__init__(options)
        self._model: Any = None
        self._tokenizer: Any = None
        self.meta: dict[str, Any] = read_selector_file(self.options.model.removeprefix("hf:"))

    @property
    def threshold(self) -> float | None:
        """The option's threshold, else the model folder's, else ``None`` (top-k)."""
        t = self.options.threshold if self.options.threshold is not None else self.meta.get("threshold")
        return None if t is None else float(t)

    @property
    def cap(self) -> int | None:
        """At most this many passages when thresholding (``max_passages``, else the folder's)."""
        return self.options.max_passages if self.options.max_passages is not None else self.meta.get("max_passages")

    @property
    def max_length(self) -> int:
        return self.options.max_length or int(self.meta.get("max_length") or 512)

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
        """Relevance score (raw logit) of each ``(question, passage text)`` pair."""
        import torch

        self._load()
        scores = [0.0] * len(pairs)
        order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][1]))
        device = next(self._model.parameters()).device
        for start in range(0, len(order), self.options.batch_size):
            idx = order[start : start + self.options.batch_size]
            enc = self._tokenizer([pairs[i][0] for i in idx], [pairs[i][1] for i in idx], padding=True,
                                  truncation=True, max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                logits = self._model(**enc.to(device)).logits.float()
            for i, value in zip(idx, logits[:, -1].tolist()):
                scores[i] = float(value)
        return scores

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        o, threshold, cap = self.options, self.threshold, self.cap
        k = o.k if o.max_passages is None else min(o.k, o.max_passages)
        pairs = [(c.query.question, passage_text(p)) for c in batch for p in c.passages]
        scores = self.score(pairs) if pairs else []
        out, start = [], 0
        for c in batch:
            n = len(c.passages)
            mine = scores[start : start + n]
            start += n
            order = rank_by_scores(mine)[:k] if threshold is None else select_by_threshold(mine, threshold, cap)
            out.append(Selection(query_id=c.query.id, method=self.name, selected_ids=[c.passages[i].id for i in order],
                                 ordered=True, parse_status="ok"))
        return out

    def close(self) -> None:
        self._model = None
        self._tokenizer = None
