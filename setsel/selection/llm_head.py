"""``llm_head``: the trained small-LLM set selector (SetR distillation, gold teacher; issue 18).

SmolLM2 reads the question and the whole pool in one pass; a trained head gives every
passage a relevance logit (:mod:`setsel.selection.head_model`, layout in
:mod:`setsel.prompts.pool_layout`); the selected set is every passage whose logit reaches the
threshold, best first, at least ``min_passages`` and at most ``max_passages``
(:func:`setsel.selection.cross_encoder.select_by_threshold`) — threshold and floor as tuned
for set F1 on held-out training questions and recorded in the model folder, unless given. Nothing
is generated, so there is nothing to parse and no fallback: ``parse_status`` is always ``ok``.

``model`` is a trained folder (``setsel train-head``) or a shipped name — the default
``smollm2-135m-setsel`` is committed in ``setsel/models/`` (its model card says how it was
trained and what it scores). ``hf:`` in front of either is accepted.

Options: ``model``, ``threshold`` and ``min_passages`` (``None`` = the folder's), ``batch_tokens`` (padded tokens
per forward pass), ``dtype`` (``None`` = bf16 where the hardware runs it natively, else fp32),
``device`` (``None`` = CUDA when available), ``num_threads``.

Example:
    >>> sel = get_selector("llm_head")                              # doctest: +SKIP
    >>> sel.select([candidates])[0].selected_ids                     # doctest: +SKIP
    ['p7', 'p2']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from setsel.selection import register_selector
from setsel.selection.base import Selector, SelectorError, SelectorOptions, _positive_int
from setsel.selection.cross_encoder import select_by_threshold
from setsel.types import Candidates, Selection

DEFAULT_MODEL = "smollm2-135m-setsel"
#: Shipped trained selectors: name → folder under ``setsel/models/``.
SHIPPED_HEADS: dict[str, str] = {"smollm2-135m-setsel": "smollm2-135m-setsel"}


def resolve_head_model(model: str) -> Path:
    """A shipped name or a trained folder (``hf:`` prefix allowed) → the model folder.

    Raises:
        SelectorError: neither a shipped name nor a folder with ``setsel_head.json``.
    """
    from setsel.selection.head_model import META_FILE

    name = str(model).removeprefix("hf:")
    if name in SHIPPED_HEADS:
        path = Path(__file__).resolve().parent.parent / "models" / SHIPPED_HEADS[name]
    else:
        path = Path(name).expanduser()
    if not (path / META_FILE).is_file():
        shipped = ", ".join(sorted(SHIPPED_HEADS))
        raise SelectorError(f"llm_head: {model!r} is not a trained llm_head folder (no {META_FILE}) "
                            f"nor a shipped one ({shipped})")
    return path


@dataclass
class LLMHeadOptions(SelectorOptions):
    """Common options plus the model folder, an optional threshold and batching."""

    model: str = DEFAULT_MODEL
    threshold: float | None = None
    min_passages: int | None = None
    batch_tokens: int = 8192
    dtype: str | None = None
    device: str | None = None
    num_threads: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.model, str) or not self.model.strip():
            raise SelectorError(f"llm_head needs model=<a trained folder or {DEFAULT_MODEL}>, got {self.model!r}")
        if self.threshold is not None and (isinstance(self.threshold, bool)
                                           or not isinstance(self.threshold, (int, float))):
            raise SelectorError(f"threshold must be a number or None, got {self.threshold!r}")
        if self.dtype not in (None, "fp32", "bf16"):
            raise SelectorError(f"dtype must be one of fp32, bf16 or None, got {self.dtype!r}")
        _positive_int("batch_tokens", self.batch_tokens, allow_none=False)
        _positive_int("min_passages", self.min_passages, allow_none=True)
        _positive_int("num_threads", self.num_threads, allow_none=True)


@register_selector("llm_head")
class LLMHead(Selector):
    """Thresholded selection by the trained pool-reading head (see the module docstring)."""

    options_cls: ClassVar[type[SelectorOptions]] = LLMHeadOptions

    def __init__(self, options: SelectorOptions | None = None) -> None:
        super().__init__(options)
        import json

        from setsel.selection.head_model import META_FILE

        self.folder = resolve_head_model(self.options.model)
        self.meta: dict[str, Any] = json.loads((self.folder / META_FILE).read_text(encoding="utf-8"))
        self._model: Any = None

    @property
    def threshold(self) -> float:
        t = self.options.threshold if self.options.threshold is not None else self.meta.get("threshold")
        if t is None:
            raise SelectorError(f"llm_head: {self.folder} records no threshold; pass threshold=")
        return float(t)

    @property
    def floor(self) -> int:
        """At least this many passages (the option, else the folder's ``min_passages``, else 1)."""
        floor = self.options.min_passages if self.options.min_passages is not None else self.meta.get("min_passages", 1)
        return int(floor) if self.cap is None else min(int(floor), self.cap)

    @property
    def cap(self) -> int | None:
        return self.options.max_passages if self.options.max_passages is not None else self.meta.get("max_passages")

    def _load(self) -> Any:
        if self._model is None:
            import torch

            from setsel.selection.head_model import PoolHeadModel

            if self.options.num_threads:
                torch.set_num_threads(self.options.num_threads)
            device = self.options.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = PoolHeadModel.load(self.folder, dtype=self.options.dtype, device=device)
        return self._model

    def scores(self, batch: list[Candidates]) -> list[list[float]]:
        """The head's logit for every passage of every pool, pools as given."""
        model = self._load()
        pools = [(c.query.question, [(p.title or "", p.text or "") for p in c.passages]) for c in batch]
        return model.logits(pools, batch_tokens=self.options.batch_tokens)

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        threshold, cap, floor = self.threshold, self.cap, self.floor
        out = []
        for c, scores in zip(batch, self.scores(batch)):
            chosen = select_by_threshold(scores, threshold, cap, floor)
            n_tokens = self._model.encode(c.query.question, [(p.title or "", p.text or "") for p in c.passages]).length
            out.append(Selection(query_id=c.query.id, method=self.name, selected_ids=[c.passages[i].id for i in chosen],
                                 ordered=True, parse_status="ok", prompt_tokens=n_tokens,
                                 raw_output=" ".join(f"{s:.3f}" for s in scores)))
        return out

    def close(self) -> None:
        self._model = None
