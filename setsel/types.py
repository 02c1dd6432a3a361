"""Core records shared by every stage (DESIGN §3). Standard library only.

Every record is a plain dataclass with ``to_dict`` / ``from_dict`` so it round-trips
through JSONL and Parquet (see :mod:`setsel.io`). Stored files carry
``SCHEMA_VERSION``; readers reject other versions with a clear error.

Example:
    >>> q = Query(id="q1", question="Who wrote X?", answers=["Ann"])
    >>> c = Candidates(query=q, passages=[Passage(id="p1", title="X", text="Ann wrote X.")])
    >>> Candidates.from_dict(c.to_dict()) == c
    True
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

SCHEMA_VERSION = 1

ParseStatus = Literal["ok", "repaired", "failed"]
PARSE_STATUSES = ("ok", "repaired", "failed")


class SchemaError(ValueError):
    """A stored record or file does not match the schema this version reads."""


class Message(TypedDict):
    """One chat message: ``{"role": "system"|"user"|"assistant", "content": str}``."""

    role: str
    content: str


def from_dict(cls, data: dict[str, Any]):
    """Build dataclass ``cls`` from ``data``; unknown keys are an error naming them."""
    if not isinstance(data, dict):
        raise SchemaError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names - {"schema_version"})
    if unknown:
        raise SchemaError(f"{cls.__name__}: unknown field(s) {unknown}; valid: {sorted(names)}")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"{cls.__name__}: schema_version {version!r} is not supported (this setsel reads {SCHEMA_VERSION})"
        )
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    ]
    missing = [n for n in required if n not in data]
    if missing:
        raise SchemaError(f"{cls.__name__}: missing required field(s) {missing}")
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Passage:
    """A retrievable unit of text. ``id`` is a stable string unique within its corpus."""

    id: str
    title: str
    text: str
    doc_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id = str(self.id)
        self.title = "" if self.title is None else str(self.title)
        self.text = "" if self.text is None else str(self.text)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Passage":
        return from_dict(cls, data)


@dataclass
class Query:
    """A question with optional gold labels.

    ``gold_passage_ids`` refer to :attr:`Passage.id` of the candidate pool / corpus;
    ``evidence`` holds gold evidence spans (MultiHop-RAG facts) for coverage.
    """

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    gold_passage_ids: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    qtype: str | None = None

    def __post_init__(self) -> None:
        self.id = str(self.id)
        self.answers = [str(a) for a in self.answers]
        self.gold_passage_ids = [str(g) for g in self.gold_passage_ids]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Query":
        return from_dict(cls, data)


@dataclass
class Candidates:
    """A query and its ordered retrieved passages (rank 1 first)."""

    query: Query
    passages: list[Passage]
    scores: list[float] | None = None
    retriever: str | None = None

    def __post_init__(self) -> None:
        if self.scores is not None and len(self.scores) != len(self.passages):
            raise SchemaError(
                f"Candidates {self.query.id}: {len(self.scores)} scores for {len(self.passages)} passages"
            )
        ids = [p.id for p in self.passages]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise SchemaError(f"Candidates {self.query.id}: duplicate passage ids {dup[:5]}")

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.passages]

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query.to_dict(),
            "passages": [p.to_dict() for p in self.passages],
            "scores": None if self.scores is None else [float(s) for s in self.scores],
            "retriever": self.retriever,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Candidates":
        if not isinstance(data, dict) or "query" not in data or "passages" not in data:
            raise SchemaError("Candidates: expected an object with 'query' and 'passages'")
        valid = {"query", "passages", "scores", "retriever", "schema_version"}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise SchemaError(f"Candidates: unknown field(s) {unknown}; valid: {sorted(valid - {'schema_version'})}")
        if not isinstance(data["passages"], list):
            raise SchemaError(f"Candidates: 'passages' must be a list, got {type(data['passages']).__name__}")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SchemaError(f"Candidates: schema_version {version!r} is not supported")
        return cls(
            query=Query.from_dict(data["query"]),
            passages=[Passage.from_dict(p) for p in data["passages"]],
            scores=data.get("scores"),
            retriever=data.get("retriever"),
        )


@dataclass
class Selection:
    """What a selector chose for one query.

    ``selected_ids`` are passage ids in output order; ``ordered`` says whether that
    order is a ranking. ``parse_status`` is ``ok`` / ``repaired`` / ``failed``; when a
    fallback produced the ids, ``fallback_used`` names it (e.g. ``"topk:5"``).
    """

    query_id: str
    method: str
    selected_ids: list[str]
    ordered: bool = False
    raw_output: str = ""
    reasoning: str = ""
    parse_status: str = "ok"
    fallback_used: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.parse_status not in PARSE_STATUSES:
            raise SchemaError(f"Selection.parse_status must be one of {PARSE_STATUSES}, got {self.parse_status!r}")
        self.query_id = str(self.query_id)
        self.selected_ids = [str(i) for i in self.selected_ids]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Selection":
        return from_dict(cls, data)


@dataclass
class SampledSet:
    """One Expand-then-Refine sample for synthesis (OptiSet Algorithm 1)."""

    query_id: str
    sample: int
    subqueries: list[str]
    raw_ids: list[str]
    refined_ids: list[str]
    H: float
    dH: float
    P: float
    permutation: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SampledSet":
        return from_dict(cls, data)


# --------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class RegexConstraint:
    """Constrain the completion to match ``pattern`` (full match)."""

    pattern: str

    def __post_init__(self) -> None:
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"RegexConstraint: invalid regex {self.pattern!r}: {exc}") from None


@dataclass(frozen=True)
class SelectionConstraint:
    """The built-in selection grammar: ``### Final Selection: [i] [j] …``.

    Admits 1 ≤ id ≤ ``num_candidates`` and at most ``max_passages`` ids
    (``None`` = up to ``num_candidates``). Repeats are dropped by the parser.
    """

    num_candidates: int
    max_passages: int | None = None
    header: str = "### Final Selection:"

    def __post_init__(self) -> None:
        def is_int(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        if not is_int(self.num_candidates) or self.num_candidates < 1:
            raise ValueError(f"SelectionConstraint.num_candidates must be an int ≥ 1, got {self.num_candidates!r}")
        if self.max_passages is not None and (not is_int(self.max_passages) or self.max_passages < 1):
            raise ValueError(f"SelectionConstraint.max_passages must be None or an int ≥ 1, got {self.max_passages!r}")

    @property
    def limit(self) -> int:
        return self.num_candidates if self.max_passages is None else min(self.max_passages, self.num_candidates)

    def to_regex(self) -> str:
        """The equivalent regular expression (ids written without leading zeros)."""
        ids = "|".join(str(i) for i in range(self.num_candidates, 0, -1))
        # Escape only regex metacharacters: grammar engines (xgrammar) reject escaped '#'/' '.
        header = re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", self.header)
        return rf"{header}( \[({ids})\]){{1,{self.limit}}}"


Constraint = RegexConstraint | SelectionConstraint


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters, validated at construction (vLLM-style).

    ``temperature == 0`` means greedy. ``seed`` makes sampling reproducible.
    ``constraint`` restricts the output; ``prefix`` is text the assistant reply
    starts with (returned as part of :attr:`Completion.text`).

    Example:
        >>> GenerationParams(n=4, temperature=0.8, seed=1, max_tokens=64).n
        4
    """

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()
    constraint: Constraint | None = None
    prefix: str | None = None

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ValueError(f"GenerationParams: {msg}")

        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            bad(f"n must be an int ≥ 1, got {self.n!r}")

        def is_number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        if not is_number(self.temperature) or not math.isfinite(self.temperature) or self.temperature < 0:
            bad(f"temperature must be a finite number ≥ 0, got {self.temperature!r}")
        if not is_number(self.top_p) or not (0 < self.top_p <= 1):
            bad(f"top_p must be in (0, 1], got {self.top_p!r}")
        if isinstance(self.max_tokens, bool) or not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            bad(f"max_tokens must be an int ≥ 1, got {self.max_tokens!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0):
            bad(f"seed must be None or an int ≥ 0, got {self.seed!r}")
        stop = () if self.stop is None else (self.stop,) if isinstance(self.stop, str) else self.stop
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) and s for s in stop):
            bad(f"stop must be a string or a list of non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", tuple(stop))
        if self.constraint is not None and not isinstance(self.constraint, (RegexConstraint, SelectionConstraint)):
            bad(f"constraint must be a RegexConstraint or SelectionConstraint, got {type(self.constraint).__name__}")
        if self.prefix is not None and not isinstance(self.prefix, str):
            bad(f"prefix must be a string, got {type(self.prefix).__name__}")
        if self.n > 1 and self.temperature == 0:
            bad("n > 1 needs temperature > 0 (greedy decoding gives n identical samples)")

    def replace(self, **changes: Any) -> "GenerationParams":
        return dataclasses.replace(self, **changes)


@dataclass
class Completion:
    """One generated sample. ``finish_reason`` is ``stop`` or ``length``."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass
class Scored:
    """Per-token log-probs of a continuation given a prompt (continuation tokens only)."""

    token_logprobs: list[float]
    tokens: list[str] = field(default_factory=list)

    @property
    def sum_logprob(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def mean_nll(self) -> float:
        """Mean negative log-likelihood per token (OptiSet's H); ``nan`` when empty."""
        if not self.token_logprobs:
            return float("nan")
        return -self.sum_logprob / len(self.token_logprobs)


@dataclass
class TrainExample:
    """One training question with its sampled sets (ids are 1-based positions in ``passages``).

    What synthesis writes (``train.parquet``: OptiSet sets with preferences ``P``, a SetR
    teacher's output, or gold sets) and every trainer reads (:mod:`setsel.training.data`).
    """

    query_id: str
    question: str
    passages: list[Passage]
    sets: list[list[int]]
    P: list[float] = field(default_factory=list)
    teacher_output: str | None = None
    answers: list[str] = field(default_factory=list)
    permutation: list[int] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.query_id = str(self.query_id)
        self.passages = [p if isinstance(p, Passage) else Passage.from_dict(p) for p in self.passages]
        self.sets = [[int(i) for i in s] for s in self.sets]
        self.P = [float(p) for p in self.P]
        n = len(self.passages)
        for s in self.sets:
            if not s or any(i < 1 or i > n for i in s):
                raise SchemaError(f"TrainExample {self.query_id}: set {s} must be non-empty ids in 1..{n}")
        if self.P and len(self.P) != len(self.sets):
            raise SchemaError(f"TrainExample {self.query_id}: {len(self.P)} P values for {len(self.sets)} sets")

    @property
    def best_index(self) -> int:
        """Index of s* = argmax P (OptiSet Eq. 9); the first set when P is absent."""
        return max(range(len(self.P)), key=lambda i: self.P[i]) if self.P else 0

    @property
    def worst_index(self) -> int:
        return min(range(len(self.P)), key=lambda i: self.P[i]) if self.P else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainExample":
        return from_dict(cls, data)
