"""The embedded SmolLM2-135M through the hf engine on real HotpotQA dev questions (slow).

Each question comes with its 10 paragraphs (../shared/data/hotpotqa_ircot500/dev.jsonl),
rendered with the project's SetR templates. Unconstrained, this model almost never writes a
``### Final Selection`` line (ENVIRONMENT.md: 0 of 12); with the selection grammar it must,
every time.
"""

import pytest
from helpers.data import hotpot_rows

from setsel.engines import GenerationParams, SelectionConstraint
from setsel.prompts import parse_selection, render

pytestmark = [pytest.mark.slow]

# bf16 vs fp32 log-probs of the same continuations (test_bf16_scores_stay_within_tolerance_of_fp32)
# Measured 2026-12-04 on 16 dev questions at 60 words/passage (~1,070 prompt tokens): max per-token
# |Δ log p| 0.367, max per-answer mean-NLL |Δ| 0.082 (the mean NLL is OptiSet's H). bf16 keeps 8
# mantissa bits, so a log-prob near −10 moves by ~0.04 per rounding and 30 layers add up; the
# bounds are ~2× the measurement. ΔH compares sets of the same question, so shifts common to
# both largely cancel; use dtype=float32 where exact scores matter (e.g. cross-engine checks).
BF16_TOKEN_TOL = 0.75
BF16_MEAN_NLL_TOL = 0.2


def _check(text: str, num: int, limit: int) -> list[int]:
    parsed = parse_selection(text, num)
    # The selection grammar admits repeated ids (a regex cannot forbid them); the parser
    # drops repeats, which is the only repair allowed here.
    assert parsed.status in ("ok", "repaired"), (text, parsed.problems)
    assert all(p.startswith("dropped repeated id") for p in parsed.problems), (text, parsed.problems)
    assert "### Final Selection: [" in text
    assert 1 <= len(parsed.ids) <= limit and len(set(parsed.ids)) == len(parsed.ids)
    assert all(1 <= i <= num for i in parsed.ids)
    return parsed.ids


@pytest.mark.timeout(900)
@pytest.mark.parametrize("sampled", [False, True], ids=["greedy", "sampled"])
def test_constrained_selection_parses_for_20_of_20_questions(smol_engine, data_dir, sampled):
    rows = hotpot_rows(data_dir, 20)
    assert len(rows) == 20 and all(len(ps) == 10 for _, ps in rows)
    # 60 words per passage (~1.1k prompt tokens) keeps the 2 × 20 prompts affordable on CPU.
    prompts = [render("setr_selection_only", question=q, passages=ps, max_words=60) for q, ps in rows]
    constraint = SelectionConstraint(num_candidates=10, max_passages=5)
    params = GenerationParams(max_tokens=32, constraint=constraint)
    if sampled:
        params = params.replace(temperature=1.0, seed=7)
    outs = smol_engine.generate(prompts, params)
    assert len(outs) == 20
    for [c] in outs:
        _check(c.text, 10, 5)
        assert c.finish_reason in ("stop", "length") and c.completion_tokens <= 32


@pytest.mark.timeout(600)
def test_iri_reasoning_then_final_selection(smol_engine, data_dir):
    """SetR IRI: free reasoning (stopped at the selection header), then the selection
    grammar continues the same reply: one parseable ``### Final Selection``."""
    [(q, ps)] = hotpot_rows(data_dir, 1)
    messages = render("setr_iri", question=q, passages=ps, max_words=100)
    [[reasoning]] = smol_engine.generate([messages], GenerationParams(max_tokens=40, stop=("### Final Selection",)))
    prefix = reasoning.text.rstrip() + "\n"
    [[final]] = smol_engine.generate([messages], GenerationParams(max_tokens=30, prefix=prefix,
                                                                   constraint=SelectionConstraint(len(ps))))
    assert final.text.startswith(prefix) and final.text.count("### Final Selection") == 1
    _check(final.text, len(ps), len(ps))


@pytest.mark.timeout(300)
def test_score_prefers_the_supported_answer(smol_engine):
    messages = render("answer", question="What is the capital of France?", passages=[
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}])
    good, bad = smol_engine.score([messages, messages], ["Paris", "Tokyo"])
    assert good.token_logprobs and all(v <= 0 for v in good.token_logprobs)
    assert good.mean_nll < bad.mean_nll


@pytest.mark.timeout(600)
def test_bf16_scores_stay_within_tolerance_of_fp32(data_dir):
    """OptiSet's utility (ΔH, Eq. 5) and training read ``score``: on real answer prompts over
    10-passage pools (~1,000 tokens), bf16 log-probs must stay close to fp32 ones. Measured
    here: see BF16_* above. 8 questions at 40 words keep it short where bf16 is emulated."""
    import math

    from setsel.datasets import load_dataset
    from setsel.engines import load_engine

    pools = load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500/dev.jsonl", limit=8)
    prompts = [render("answer", question=c.query.question, max_words=40,
                      passages=[{"title": p.title, "text": p.text} for p in c.passages]) for c in pools]
    answers = [c.query.answers[0] for c in pools]
    scored = {}
    for dtype in ("float32", "bfloat16"):
        engine = load_engine("hf:smollm2-135m", dtype=dtype, batch_size=4)
        assert engine.dtype == dtype
        scored[dtype] = engine.score(prompts, answers)
        engine.close()
    token_diffs = [abs(a - b) for x, y in zip(scored["float32"], scored["bfloat16"])
                   for a, b in zip(x.token_logprobs, y.token_logprobs)]
    nll_diffs = [abs(x.mean_nll - y.mean_nll) for x, y in zip(scored["float32"], scored["bfloat16"])]
    assert len(token_diffs) >= 20 and all(math.isfinite(d) for d in token_diffs)
    print(f"bf16 vs fp32: max token |Δlogp| {max(token_diffs):.4f}, max mean-NLL |Δ| {max(nll_diffs):.4f}")
    assert max(nll_diffs) < BF16_MEAN_NLL_TOL
    assert max(token_diffs) < BF16_TOKEN_TOL
