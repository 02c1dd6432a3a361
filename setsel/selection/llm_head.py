"""``llm_head``: the trained small-LLM set selector (SetR distillation, gold teacher; issue 18).

SmolLM2 reads the question and the whole pool in one pass; a trained head gives every
passage a relevance logit (:mod:`setsel.selection.head_model`, layout in
:mod:`setsel.prompts.pool_layout`); the selected set is a prefix of the passages by decreasing
logit, at least ``min_passages`` and at most ``max_passages``, cut by the folder's ``rule``:

- ``threshold``: every passage whose logit reaches the threshold
  (:func:`setsel.selection.cross_encoder.select_by_threshold`);
- ``expected_f1``: the prefix with the largest expected set F1 under ``p = σ(logit / T)``
  (:func:`setsel.selection.rules.select_expected_f1`).

Before the cut, the logits can be fused with BM25 over the pool
(:func:`setsel.selection.rules.fuse_lexical`: ``logit + w · z(BM25)``), ``w`` = the folder's
``lexical_weight`` (0 when absent: the head alone). Rule, threshold / temperature, floor and
``w`` are tuned for set F1 on held-out training questions
and recorded in the model folder (a folder without ``rule`` uses ``threshold``), unless given. Nothing
is generated, so there is nothing to parse and no fallback: ``parse_status`` is always ``ok``.

``model`` is a trained folder (``setsel train-head``) or a shipped name — the default
``smollm2-135m-setsel`` is committed in ``setsel/models/`` (its model card says how it was
trained and what it scores). ``hf:`` in front of either is accepted.

A model trained with second-hop reads (``pin_fraction`` > 0) can read the pool twice: the
second read shows the first read's best passage on the layout's ``Known:`` line and scores the
others given it (Beam Retrieval's hop-conditioned scoring: the bridge passage names what the
second hop must contain); each other passage then scores ``(1 − m)·first + m·second``
(:func:`setsel.selection.rules.second_hop_scores`), ``m`` = the folder's ``second_hop_mix``
(0 or absent: one read). Twice the model time; tuned with the cut on the held-out questions.

Then, with the folder's ``feedback_weight`` ``v`` > 0, the lexical second-hop feedback
(:func:`setsel.selection.lexical.feedback_scores`): the best passage's text becomes a BM25 query
over the rest of the pool and every other passage gains ``v · z(that BM25)`` — the second hop is
usually the article of an entity the first hop names. LLM-free, microseconds; ``v`` is tuned with
the cut on the held-out questions.

Options: ``model``, ``rule``, ``threshold``, ``temperature``, ``min_passages``, ``lexical_weight``,
``second_hop_mix`` and ``feedback_weight`` (``None`` = the folder's), ``batch_tokens`` (padded tokens
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
from setsel.selection.base import Selector, SelectorError, SelectorOptions, check_positive_int
from setsel.selection.cross_encoder import rank_by_scores, select_by_threshold
from setsel.selection.rules import fuse_lexical, second_hop_scores, select_expected_f1
from setsel.types import Candidates, Selection

DEFAULT_MODEL = "smollm2-135m-setsel"
RULES = ("threshold", "expected_f1")
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
    rule: str | None = None
    threshold: float | None = None
    temperature: float | None = None
    min_passages: int | None = None
    lexical_weight: float | None = None
    second_hop_mix: float | None = None
    feedback_weight: float | None = None
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
        if self.lexical_weight is not None and (isinstance(self.lexical_weight, bool)
                                                or not isinstance(self.lexical_weight, (int, float))
                                                or self.lexical_weight < 0):
            raise SelectorError(f"lexical_weight must be a number ≥ 0 or None, got {self.lexical_weight!r}")
        if self.feedback_weight is not None and (isinstance(self.feedback_weight, bool)
                                                 or not isinstance(self.feedback_weight, (int, float))
                                                 or self.feedback_weight < 0):
            raise SelectorError(f"feedback_weight must be a number ≥ 0 or None, got {self.feedback_weight!r}")
        if self.second_hop_mix is not None and (isinstance(self.second_hop_mix, bool)
                                                or not isinstance(self.second_hop_mix, (int, float))
                                                or not 0 <= self.second_hop_mix <= 1):
            raise SelectorError(f"second_hop_mix must be a number in [0, 1] or None, got {self.second_hop_mix!r}")
        if self.rule not in (None, *RULES):
            raise SelectorError(f"rule must be one of {', '.join(RULES)} or None, got {self.rule!r}")
        if self.temperature is not None and (isinstance(self.temperature, bool)
                                             or not isinstance(self.temperature, (int, float)) or self.temperature <= 0):
            raise SelectorError(f"temperature must be a number > 0 or None, got {self.temperature!r}")
        if self.dtype not in (None, "fp32", "bf16"):
            raise SelectorError(f"dtype must be one of fp32, bf16 or None, got {self.dtype!r}")
        check_positive_int("batch_tokens", self.batch_tokens, allow_none=False)
        check_positive_int("min_passages", self.min_passages, allow_none=True)
        check_positive_int("num_threads", self.num_threads, allow_none=True)


def top_index(scores: list[float]) -> int:
    """The best-scored passage (the first on a tie, as the cut ranks them); 0 for an empty pool."""
    return rank_by_scores(scores)[0] if scores else 0


def combine_reads(first: list[float], read: list[float], lexical: list[float], top: int, weight: float,
                  mix: float) -> list[float]:
    """The cut's scores after the second read: ``read`` (the head logits of every passage but ``top``)
    fused with BM25 like the first read, then mixed (:func:`~setsel.selection.rules.second_hop_scores`);
    a pool of 0 or 1 passages has nothing to re-read and keeps ``first``."""
    if len(first) < 2:
        return first
    return second_hop_scores(first, fuse_lexical(read, lexical[:top] + lexical[top + 1:], weight), top, mix)


def second_read(model: Any, pools: list[tuple[str, list[tuple[str, str]]]], tops: list[int],
                batch_tokens: int = 8192) -> list[list[float]]:
    """The second-hop read: each pool's head logits for every passage but ``tops[i]``, which is shown
    on the ``Known:`` line (pool order kept); ``[]`` for a pool of one passage."""
    idx = [i for i, (_, ps) in enumerate(pools) if len(ps) > 1]
    reads = model.logits([(pools[i][0], pools[i][1][:tops[i]] + pools[i][1][tops[i] + 1:]) for i in idx],
                         batch_tokens=batch_tokens, known=[pools[i][1][tops[i]] for i in idx])
    out: list[list[float]] = [[] for _ in pools]
    for i, r in zip(idx, reads):
        out[i] = r
    return out


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
    def rule(self) -> str:
        """``threshold`` or ``expected_f1``: the ``rule`` option; else the rule whose parameter was
        given (``threshold=`` or ``temperature=``); else the folder's; else ``threshold``."""
        if self.options.rule:
            return self.options.rule
        if self.options.threshold is not None:
            return "threshold"
        if self.options.temperature is not None:
            return "expected_f1"
        return self.meta.get("rule") or "threshold"

    @property
    def temperature(self) -> float:
        t = self.options.temperature if self.options.temperature is not None else self.meta.get("temperature", 1.0)
        return float(t)

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
    def lexical_weight(self) -> float:
        """``w`` of the BM25 fusion: the option, else the folder's ``lexical_weight``, else 0."""
        w = self.options.lexical_weight if self.options.lexical_weight is not None else self.meta.get("lexical_weight")
        return float(w or 0.0)

    @property
    def second_hop_mix(self) -> float:
        """Weight of the second-hop read: the option, else the folder's ``second_hop_mix``, else 0 (one read)."""
        m = self.options.second_hop_mix if self.options.second_hop_mix is not None else self.meta.get("second_hop_mix")
        return float(m or 0.0)

    @property
    def feedback_weight(self) -> float:
        """Weight of the lexical second-hop feedback: the option, else the folder's ``feedback_weight``, else 0."""
        v = self.options.feedback_weight if self.options.feedback_weight is not None else self.meta.get("feedback_weight")
        return float(v or 0.0)

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

    def head_scores(self, batch: list[Candidates]) -> list[list[float]]:
        """The head's logit for every passage of every pool, pools as given."""
        model = self._load()
        pools = [(c.query.question, [(p.title or "", p.text or "") for p in c.passages]) for c in batch]
        return model.logits(pools, batch_tokens=self.options.batch_tokens)

    def scores(self, batch: list[Candidates]) -> list[list[float]]:
        """The score the cut reads: the head's logit, plus ``lexical_weight`` · z(BM25 over the pool);
        with ``second_hop_mix`` > 0 combined with the second-hop read; with ``feedback_weight`` > 0
        plus the lexical second-hop feedback of the best passage (module docstring)."""
        head, w, mix, v = self.head_scores(batch), self.lexical_weight, self.second_hop_mix, self.feedback_weight
        if not w and not mix and not v:
            return head
        from setsel.selection.lexical import feedback_scores, lexical_scores

        lexical = [lexical_scores(c.query.question, c.passages) for c in batch]
        first = [fuse_lexical(h, lex, w) for h, lex in zip(head, lexical)]
        if mix:
            pools = [(c.query.question, [(p.title or "", p.text or "") for p in c.passages]) for c in batch]
            tops = [top_index(s) for s in first]
            second = second_read(self._load(), pools, tops, self.options.batch_tokens)
            first = [combine_reads(f, r, lex, t, w, mix) for f, r, lex, t in zip(first, second, lexical, tops)]
        if not v:
            return first
        max_words = self.meta.get("max_words")
        return [feedback_scores(s, c.passages, v, max_words) for s, c in zip(first, batch)]

    def _select(self, batch: list[Candidates]) -> list[Selection]:
        cap, floor = self.cap, self.floor
        if self.rule == "expected_f1":
            temperature = self.temperature

            def cut(scores: list[float]) -> list[int]:
                return select_expected_f1(scores, temperature, cap, floor)
        else:
            threshold = self.threshold

            def cut(scores: list[float]) -> list[int]:
                return select_by_threshold(scores, threshold, cap, floor)
        out = []
        for c, scores in zip(batch, self.scores(batch)):
            chosen = cut(scores)
            shown = [(p.title or "", p.text or "") for p in c.passages]
            n_tokens = self._model.encode(c.query.question, shown).length
            if self.second_hop_mix and len(shown) > 1:   # the second read's tokens count too
                top = top_index(scores)
                n_tokens += self._model.encode(c.query.question, shown[:top] + shown[top + 1:], shown[top]).length
            out.append(Selection(query_id=c.query.id, method=self.name, selected_ids=[c.passages[i].id for i in chosen],
                                 ordered=True, parse_status="ok", prompt_tokens=n_tokens,
                                 raw_output=" ".join(f"{s:.3f}" for s in scores)))
        return out

    def close(self) -> None:
        self._model = None
