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

from setsel.training.data import TrainExample
from setsel.types import Passage

PROXY_P = {"gold": 0.9, "one_gold": 0.6, "gold_plus_distractor": -0.6, "distractors": -0.9}


def hotpot_gold_example(row: dict, seed: int = 0) -> TrainExample | None:
    """One example from a HotpotQA row (``question``, ``context``, ``supporting_facts``);
    ``None`` when the row has fewer than two gold or two distractor paragraphs."""
    titles = [t for t, _ in row["context"]]
    gold_titles = {t for t, _ in row["supporting_facts"]}
    passages = [Passage(id=f"{row['_id']}:{i}", title=t, text="".join(s).strip()) for i, (t, s) in enumerate(row["context"])]
    rng = random.Random(f"{seed}:{row['_id']}")
    perm = list(range(len(passages)))
    rng.shuffle(perm)  # new position i shows original paragraph perm[i]
    shown = [passages[j] for j in perm]
    gold = [i + 1 for i, j in enumerate(perm) if titles[j] in gold_titles]
    other = [i + 1 for i, j in enumerate(perm) if titles[j] not in gold_titles]
    if len(gold) < 2 or len(other) < 2:
        return None
    a, d = rng.choice(gold), rng.sample(other, 2)
    sets = [sorted(gold), [a], sorted([a, d[0]]), sorted(d)]
    P = [PROXY_P["gold"], PROXY_P["one_gold"], PROXY_P["gold_plus_distractor"], PROXY_P["distractors"]]
    return TrainExample(query_id=str(row["_id"]), question=row["question"], passages=shown, sets=sets, P=P,
                        answers=[str(row.get("answer", ""))], permutation=perm,
                        metadata={"source": "hotpot_gold_proxy"})


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
