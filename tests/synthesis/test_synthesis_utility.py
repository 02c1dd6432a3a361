"""OptiSet Eqs. 5–7 (synthesis/utility.py) and the shared Expand-then-Refine prompts, against a
fake engine whose log-probs and replies are set by hand."""

from __future__ import annotations

import math

import pytest

from setsel.synthesis.esr import ESRConfig, propose_sets, score_sets
from setsel.synthesis.utility import answer_entropy, entropy_change, entropy_from_logprobs
from setsel.types import Candidates, Completion, Passage, Query, SampledSet, Scored


class FakeEngine:
    """``score``: log-probs chosen by how many passages the answer prompt carries;
    ``generate``: a fixed reply per template, every prompt recorded."""

    max_context = 8192

    def count_tokens(self, messages):
        return sum(len(m["content"].split()) for m in messages)

    def __init__(self, logprobs_by_n_passages: dict[int, list[float]] | None = None, expand_reply: str = ""):
        self.logprobs = logprobs_by_n_passages or {}
        self.expand_reply = expand_reply
        self.scored: list[tuple[list, str]] = []
        self.generated: list[tuple[str, list]] = []
        self.params: list = []

    def score(self, prompts, continuations):
        out = []
        for messages, cont in zip(prompts, continuations):
            text = messages[-1]["content"]
            n = text.count("[") if "Passages" in text or "[1]" in text else 0
            self.scored.append((messages, cont))
            out.append(Scored(list(self.logprobs[n])))
        return out

    def generate(self, prompts, params):
        out = []
        for messages in prompts:
            text = messages[-1]["content"]
            stage = "expand" if params.prefix else ("refine" if "irrelevant" in text.lower() else "select")
            self.generated.append((stage, messages))
            self.params.append((stage, params))
            reply = self.expand_reply if stage == "expand" else "### Final Selection: [1]"
            out.append([Completion(reply, 10, 5, "stop") for _ in range(params.n)])
        return out


def _question(n_passages: int = 3) -> Candidates:
    passages = [Passage(id=f"p{i}", title=f"T{i}", text=f"passage {i} text") for i in range(1, n_passages + 1)]
    return Candidates(query=Query(id="q1", question="Who founded Acme?", answers=["Ann Smith"]), passages=passages)


def test_eqs_5_6_7_hand_computed():
    # Eq. 6: H = −mean log p; Eq. 5: PPL = exp(H)
    assert entropy_from_logprobs([-1.0, -3.0]) == 2.0 and math.exp(entropy_from_logprobs([-1.0, -3.0])) == math.exp(2)
    assert entropy_from_logprobs([-0.5, -0.5]) == 0.5
    assert math.isnan(entropy_from_logprobs([]))
    # Eq. 7: ΔH = H_p − H_0
    assert entropy_change(0.5, 2.0) == -1.5 and math.isnan(entropy_change(float("nan"), 2.0))


def test_score_sets_fills_h_and_dh_from_the_generator():
    c = _question()
    engine = FakeEngine({0: [-1.0, -3.0], 1: [-0.5, -0.5], 2: [-2.0, -4.0, -3.0]})
    sets = [SampledSet("q1", 0, [], ["p1"], ["p1"], *(float("nan"),) * 3),
            SampledSet("q1", 1, [], ["p1", "p3"], ["p3", "p1"], *(float("nan"),) * 3)]
    out = score_sets([c], sets, engine)
    assert [s.H for s in out] == [0.5, 3.0]                  # H_k of the refined sets
    assert [s.dH for s in out] == [-1.5, 1.0]                # − H_0 = 2.0 (no passages)
    assert all(math.isnan(s.P) for s in out)                 # P waits for the dataset-wide α, β fit
    # one score call: H_0 first (no passages), then each set with its refined passages in order
    assert [cont for _, cont in engine.scored] == ["Ann Smith"] * 3
    assert "[1]" not in engine.scored[0][0][-1]["content"]
    assert engine.scored[2][0][-1]["content"].index("T3") < engine.scored[2][0][-1]["content"].index("T1")
    assert answer_entropy(engine, [c.query.question], ["Ann Smith"], [[]]) == [2.0]


def test_synthesis_selects_with_the_served_selectors_prompts():
    """Expand-then-Refine in synthesis builds its select prompts with the served selector's
    select_jobs: a sub-query that repeats the question is dropped, the template's prefix opens
    the expansion, and the gold answers are in every prompt."""
    c = _question()
    engine = FakeEngine(expand_reply=" Where is Acme based?\nWho founded Acme?")  # 2nd = the question itself
    sets = propose_sets([c], engine, ESRConfig(k=2, temperature=1.0, max_words=20))
    assert len(sets) == 2 and [s.subqueries for s in sets] == [["Where is Acme based?", "Who founded Acme?"]] * 2
    stages = [stage for stage, _ in engine.generated]
    assert stages.count("expand") == 1
    assert stages.count("select") == 2 * 2  # K=2 × {q, the one new sub-query}: the repeat was dropped
    assert stages.count("refine") == 2
    for stage, messages in engine.generated:
        assert "Ann Smith" in messages[-1]["content"], stage
    assert [s.refined_ids for s in sets] == [["p1"], ["p1"]]


@pytest.mark.parametrize("bad", [{"k": 2, "temperature": 0.0}])
def test_k_samples_need_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        propose_sets([_question()], FakeEngine(), ESRConfig(**bad))


def test_synthesis_samples_the_served_stages_and_chunks_a_pool_too_large_for_the_context():
    """Synthesis runs the served select stage (run_stage) with its sampling policy: every call is
    sampled at the configured temperature with a stage seed, and a pool that does not fit the
    context is split into chunks (the hand-written synthesis loop had no chunking)."""
    from setsel.prompts import render
    from setsel.selection.decoding import DecodeConfig
    from setsel.selection.stages import MARGIN_TOKENS

    words = " ".join(["word"] * 40)
    c = Candidates(query=Query(id="q1", question="Who founded Acme?", answers=["Ann Smith"]),
                   passages=[Passage(id=f"p{i}", title=f"T{i}", text=f"{i} {words}") for i in range(1, 4)])
    engine = FakeEngine()  # no sub-queries parsed: one select job per sample

    def tokens(n):
        return engine.count_tokens(render("optiset_select", question=c.query.question, passages=c.passages[:n],
                                          queries=[c.query.question], answers=["Ann Smith"], max_words=40))

    per_passage = tokens(2) - tokens(1)
    budget = DecodeConfig(reasoning=False, selection_max_tokens=48).generation_budget(3)
    engine.max_context = tokens(2) + per_passage // 2 + budget + MARGIN_TOKENS   # 2 passages fit, 3 do not
    sets = propose_sets([c], engine, ESRConfig(k=1, temperature=0.7, max_words=40, select_tokens=48, seed=5))
    selects = [m for stage, m in engine.generated if stage == "select"]
    assert len(selects) == 2                                                     # one job, two chunks
    assert [sum(f"T{i}" in m[-1]["content"] for i in range(1, 4)) for m in selects] in ([2, 1], [1, 2])
    assert all(p.temperature == 0.7 and p.seed is not None for _, p in engine.params)
    seeds = {stage: p.seed for stage, p in engine.params}
    assert len(set(seeds.values())) == len(seeds) == 3                        # a seed per stage
    # the union of the chunks' picks ([1] of each chunk), refined to its first passage
    assert len(sets) == 1 and len(sets[0].raw_ids) == 2 and sets[0].refined_ids == sets[0].raw_ids[:1]
