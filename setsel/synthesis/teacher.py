"""SetR teacher labels (SetR §3.3.1): a teacher model runs the IRI prompt; its full output is the SFT target.

Any engine works as the teacher (``openai:gpt-4o@https://api.openai.com/v1``, a large vLLM
model, or the embedded model for a dry run). Outputs whose final selection does not parse
are dropped (recorded in the job metadata), never trained on.
"""

from __future__ import annotations

from typing import Any

from setsel.prompts import parse_selection, render
from setsel.types import Candidates, GenerationParams, SampledSet


def label_batch(batch: list[Candidates], teacher: Any, max_tokens: int = 1024, max_words: int = 100) -> list[SampledSet]:
    """One greedy IRI completion per question; stored as a SampledSet with the raw output in ``subqueries[0]``."""
    batch = [c for c in batch if c.passages]
    prompts = [render("setr_iri", question=c.query.question, passages=c.passages, max_words=max_words) for c in batch]
    outs = teacher.generate(prompts, GenerationParams(max_tokens=max_tokens))
    sets = []
    for c, [completion] in zip(batch, outs):
        parsed = parse_selection(completion.text, len(c.passages))
        ids = [c.passages[i - 1].id for i in parsed.ids]
        sets.append(SampledSet(query_id=c.query.id, sample=0, subqueries=[completion.text], raw_ids=ids,
                               refined_ids=ids, H=float("nan"), dH=float("nan"),
                               P=1.0 if parsed.status != "failed" else float("nan")))
    return sets


def build_teacher_examples(sampled: list[SampledSet], questions: list[Candidates]) -> list[Any]:
    """TrainExamples whose target is the teacher's full output (reasoning + selection)."""
    from setsel.types import TrainExample

    pools = {c.query.id: c for c in questions}
    out = []
    for s in sampled:
        c = pools.get(s.query_id)
        if c is None or not s.refined_ids:
            continue
        pos = {p.id: i + 1 for i, p in enumerate(c.passages)}
        out.append(TrainExample(query_id=s.query_id, question=c.query.question, passages=c.passages,
                                sets=[[pos[i] for i in s.refined_ids]], P=[1.0], teacher_output=s.subqueries[0],
                                answers=list(c.query.answers)))
    return out
