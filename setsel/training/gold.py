"""Gold-derived training examples from HotpotQA-format rows (demos and tests, not OptiSet data).

OptiSet's training sets come from the synthesis stage (sampled sets scored by the
generator's perplexity, Eq. 5–8). Before that data exists, a well-formed stand-in can be
built from a HotpotQA training row: the paragraphs that hold its supporting facts form the
best set; a lone supporting paragraph, a supporting paragraph with a distractor, and two
distractors are worse sets. Their ``P`` values are FIXED PROXIES in OptiSet's ranges
(positive ∈ (0.5, 1], negative ∈ [−1, −0.5)), not measured utilities:
gold 0.9 > one gold 0.6 > gold + distractor −0.6 > two distractors −0.9.

Example:
    examples = hotpot_gold_examples("../shared/data/hotpotqa_train100_hipporag/train.jsonl", n=8)
    write_records("runs/tiny/train.jsonl", examples)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from setsel.types import TrainExample
from setsel.types import Passage

PROXY_P = {"gold": 0.9, "one_gold": 0.6, "gold_plus_distractor": -0.6, "distractors": -0.9}


def gold_example(qid: str, question: str, passages: list[Passage], gold_ids: set[str], answers: list[str],
                 seed: int = 0) -> TrainExample | None:
    """One proxy example: the pool shuffled (seeded per question), the gold passages as the best
    set and three worse sets; ``None`` with fewer than two gold or two other passages."""
    rng = random.Random(f"{seed}:{qid}")
    perm = list(range(len(passages)))
    rng.shuffle(perm)  # new position i shows original passage perm[i]
    shown = [passages[j] for j in perm]
    gold = [i + 1 for i, j in enumerate(perm) if passages[j].id in gold_ids]
    other = [i + 1 for i, j in enumerate(perm) if passages[j].id not in gold_ids]
    if len(gold) < 2 or len(other) < 2:
        return None
    a, d = rng.choice(gold), rng.sample(other, 2)
    sets = [sorted(gold), [a], sorted([a, d[0]]), sorted(d)]
    P = [PROXY_P["gold"], PROXY_P["one_gold"], PROXY_P["gold_plus_distractor"], PROXY_P["distractors"]]
    return TrainExample(query_id=qid, question=question, passages=shown, sets=sets, P=P, answers=answers,
                        permutation=perm, metadata={"source": "gold_proxy"})


def hotpot_gold_example(row: dict, seed: int = 0) -> TrainExample | None:
    """One example from a HotpotQA row (``question``, ``context``, ``supporting_facts``);
    ``None`` when the row has fewer than two gold or two distractor paragraphs."""
    gold_titles = {t for t, _ in row["supporting_facts"]}
    passages = [Passage(id=f"{row['_id']}:{i}", title=t, text="".join(s).strip()) for i, (t, s) in enumerate(row["context"])]
    gold_ids = {p.id for p in passages if p.title in gold_titles}
    return gold_example(str(row["_id"]), row["question"], passages, gold_ids, [str(row.get("answer", ""))], seed)


def candidates_gold_examples(candidates: list, seed: int = 0) -> list[TrainExample]:
    """Proxy examples from labelled :class:`~setsel.types.Candidates` (questions without two gold
    and two other passages are skipped)."""
    out = []
    for c in candidates:
        ex = gold_example(c.query.id, c.query.question, list(c.passages), set(c.query.gold_passage_ids),
                          list(c.query.answers), seed)
        if ex is not None:
            out.append(ex)
    return out


def hotpot_gold_examples(path: str | Path, n: int | None = None, seed: int = 0) -> list[TrainExample]:
    """The first ``n`` usable rows of a HotpotQA JSONL file as :class:`TrainExample`."""
    out: list[TrainExample] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            ex = hotpot_gold_example(json.loads(line), seed)
            if ex is not None:
                out.append(ex)
            if n is not None and len(out) >= n:
                break
    return out
