"""The ``gold`` teacher (SetR §3.3 distillation, with the benchmark's gold paragraphs as teacher). Pure.

SetR distils a teacher's set selections into a small selector. Here the teacher is the
benchmark's own labels: for a training question the best set is **the gold passages present
in its pool**. Each question is written ``permutations`` times, each time with the pool in
a fresh seeded random order and the ids remapped through the permutation, so the selector
cannot learn positions — only which passages answer the question.

Every example also carries alternative sets with preferences, so the set-list-wise loss
(OptiSet Eq. 10, CE + λ·KL) ranks real alternatives and DPO has a real "worse" set:

- the gold set (``P = 1``);
- gold with one distractor added;
- the same number of distractors as gold passages;
- gold with one passage dropped (each, when the gold set has ≥ 2 passages).

``P`` of a set is ``2·F1 − 1`` where F1 is its set F1 against the gold set (:func:`set_preference`),
so ``P ∈ [−1, 1]`` like OptiSet's Eq. 8 — a label-derived proxy, **not** a measured
perplexity utility. Sets are deduplicated and capped at ``max_sets`` (the gold set first).

The no-gold rule: a pool that holds none of the question's gold passages (retrieved pools,
e.g. ``hotpotqa_hard443_amor``: 68 of 443) has no target the selector could learn — the
selectors always return at least one passage and ``TrainExample`` sets are non-empty — so
the question is **dropped** and counted under ``dropped["no gold in pool"]``. A pool with
only some of its gold passages keeps the ones present as its target.

Example:
    >>> set_preference([1, 2], {1, 2}), set_preference([1], {1, 2}), set_preference([3], {1, 2})
    (1.0, 0.333333, -1.0)
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from setsel.synthesis.sets import dedupe_sets, make_permutation, permute_example
from setsel.types import Candidates

NO_GOLD = "no gold in pool"
REASONING_CHOICES = ("none", "titles", "judgements")
TITLES_HEADER = "Needed passages:"
JUDGEMENTS_HEADER = "Relevance:"
NO_PASSAGES = "empty pool"


def normalise_question(text: str) -> str:
    """The key two questions are "the same" by: lower-cased, whitespace runs collapsed, stripped
    (the rule the data's own train/dev split used, ../shared/data/SOURCES.md).

    >>> normalise_question("  Who is  OLDER,\\tAnnie Morton? ")
    'who is older, annie morton?'
    """
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def titles_target(titles: Sequence[str], ids: Sequence[int]) -> str:
    """The ``reasoning: titles`` target: the needed passages' titles, then the selection line.

    The titles are the information requirements read off the gold labels (one per gold
    paragraph, in the order of their ids) — nothing is invented; writing them first lets the
    model copy entity names before it has to point at ids.

    >>> titles_target(["Annie Morton", "Terry Richardson"], [3, 7])
    'Needed passages: Annie Morton | Terry Richardson\n### Final Selection: [3] [7]'
    """
    from setsel.text import clean_passage_text
    from setsel.training.data import selection_target

    # cleaned as the prompt renders titles (render_passage), so the model copies what it sees
    clean = [" ".join(clean_passage_text(str(t)).split()) or "(untitled)" for t in titles]
    return f"{TITLES_HEADER} {' | '.join(clean)}\n{selection_target(ids)}"


def judgements_target(n_passages: int, ids: Sequence[int]) -> str:
    """The ``reasoning: judgements`` target: a yes/no judgement for every passage, then the selection.

    One line per passage in pool order — ``[i] yes`` when passage ``i`` is a gold passage,
    ``[i] no`` otherwise — read straight off the gold labels (nothing invented). Each line is
    one supervised decision that makes the model look at passage ``i`` beside the question,
    so an example teaches ``n_passages`` decisions instead of the two or three id tokens of a
    selection-only target (which a 135M model learned as "always ``[1] [2]``").

    >>> print(judgements_target(3, [2]))
    Relevance:
    [1] no
    [2] yes
    [3] no
    ### Final Selection: [2]
    """
    from setsel.training.data import selection_target

    chosen = set(ids)
    lines = [f"[{i}] {'yes' if i in chosen else 'no'}" for i in range(1, n_passages + 1)]
    return "\n".join([JUDGEMENTS_HEADER, *lines, selection_target(sorted(chosen))])


def set_preference(chosen: Iterable[int], gold: set[int]) -> float:
    """``2·F1 − 1`` of ``chosen`` against ``gold`` (1 = the gold set, −1 = no gold passage), 6 decimals."""
    chosen = set(chosen)
    hit = len(chosen & gold)
    if not chosen or not gold or hit == 0:
        return -1.0
    p, r = hit / len(chosen), hit / len(gold)
    return round(2 * (2 * p * r / (p + r)) - 1, 6)


def alternative_sets(gold: Sequence[int], others: Sequence[int], rng: random.Random) -> list[list[int]]:
    """The gold set first, then gold plus one distractor, as many distractors, and gold minus one.

    Ids are 1-based positions; ``others`` are the non-gold positions of the same pool. The
    order matters when ``max_sets`` cuts the list: the distractor set (the only ``P = −1`` one)
    comes before the minus-one sets, so large gold sets keep a real "worse" set.
    """
    gold = sorted(gold)
    sets = [list(gold)]
    if others:
        sets.append(sorted(gold + [rng.choice(list(others))]))
        sets.append(sorted(rng.sample(list(others), min(len(gold), len(others)))))
    if len(gold) >= 2:
        sets += [[g for g in gold if g != drop] for drop in gold]
    return sets


@dataclass
class GoldReport:
    """What the gold teacher kept and why it dropped the rest."""

    n_questions: int = 0
    n_kept: int = 0
    n_examples: int = 0
    gold_sizes: dict[int, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)


def gold_examples(
    candidates: Sequence[Candidates],
    permutations: int = 4,
    seed: int = 0,
    max_sets: int = 5,
    alternatives: bool = True,
    reasoning: str = "none",
) -> tuple[list[Any], GoldReport]:
    """``TrainExample`` records from labelled pools (see the module docstring).

    Args:
        candidates: questions with their pools; ``query.gold_passage_ids`` are the labels.
        permutations: examples per question, each with its own seeded pool order
            (``metadata["copy"]`` = 0..permutations-1; the trainer's ``data.max_copies`` keeps a prefix).
        seed: permutation seed; the same seed gives the same examples.
        max_sets: at most this many sets per example (the gold set always first).
        alternatives: ``False`` writes the gold set alone (SFT only).
        reasoning: ``"titles"`` also writes ``teacher_output`` = :func:`titles_target` of the
            gold set in the shown order (train it with ``data.target: teacher``);
            ``"judgements"``: :func:`judgements_target` (a yes/no line per passage); ``"none"``: no
            teacher output (selection-only targets).
    Returns:
        ``(examples, report)``; examples are question-major, copy-minor.
    """
    from setsel.types import TrainExample

    if reasoning not in REASONING_CHOICES:
        raise ValueError(f"reasoning must be one of {REASONING_CHOICES}, got {reasoning!r}")
    if permutations < 1 or max_sets < 1:
        raise ValueError(f"permutations and max_sets must be ≥ 1, got {permutations}, {max_sets}")
    out: list[Any] = []
    report = GoldReport(n_questions=len(candidates))
    dropped: Counter[str] = Counter()
    sizes: Counter[int] = Counter()
    for c in candidates:
        passages = list(c.passages)
        if not passages:
            dropped[NO_PASSAGES] += 1
            continue
        gold_ids = set(c.query.gold_passage_ids)
        gold = [i + 1 for i, p in enumerate(passages) if p.id in gold_ids]
        if not gold:
            dropped[NO_GOLD] += 1
            continue
        sizes[len(gold)] += 1
        others = [i + 1 for i, p in enumerate(passages) if p.id not in gold_ids]
        report.n_kept += 1
        for copy in range(permutations):
            rng = random.Random(f"{seed}:{c.query.id}:{copy}")
            sets = alternative_sets(gold, others, rng) if alternatives else [sorted(gold)]
            P = [set_preference(s, set(gold)) for s in sets]
            sets, P = dedupe_sets(sets, P)
            sets, P = sets[:max_sets], P[:max_sets]
            perm = make_permutation(len(passages), hash_seed(seed, c.query.id, copy))
            shown, remapped = permute_example(passages, sets, perm)
            teacher = None
            if reasoning == "titles":
                teacher = titles_target([shown[i - 1].title for i in remapped[0]], remapped[0])
            elif reasoning == "judgements":
                teacher = judgements_target(len(shown), remapped[0])
            out.append(TrainExample(query_id=f"{c.query.id}@{copy}", question=c.query.question, passages=shown,
                                    sets=remapped, P=P, answers=list(c.query.answers), permutation=perm,
                                    teacher_output=teacher,
                                    metadata={"source": "gold", "copy": copy, "question_id": c.query.id}))
    report.n_examples = len(out)
    report.dropped = dict(dropped)
    report.gold_sizes = dict(sorted(sizes.items()))
    return out, report


def hash_seed(seed: int, qid: str, copy: int) -> int:
    """A stable integer seed for (seed, question, copy) (Python's ``hash`` is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"{seed}:{qid}:{copy}".encode()).digest()[:8], "big")


def exclude_questions(candidates: Sequence[Candidates], forbidden: set[str]) -> tuple[list[Candidates], list[str]]:
    """Split off questions whose :func:`normalise_question` text is in ``forbidden``.

    Returns ``(kept, refused_ids)``. ``forbidden`` holds normalised evaluation questions.
    """
    kept, refused = [], []
    for c in candidates:
        (refused.append(c.query.id) if normalise_question(c.query.question) in forbidden else kept.append(c))
    return kept, refused
