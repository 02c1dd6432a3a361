"""The embedded SmolLM2 through the hf engine on real HotpotQA dev questions (slow)."""

import pytest
from helpers.data import hotpot_rows

from setsel.engines import GenerationParams, SelectionConstraint
from setsel.prompts import parse_selection, render

pytestmark = [pytest.mark.slow]


@pytest.mark.timeout(600)
def test_constrained_selection_always_parses(smol_engine, data_dir):
    rows = hotpot_rows(data_dir, 20)
    prompts = [render("setr_selection_only", question=q, passages=ps, max_words=60) for q, ps in rows]
    for params in (GenerationParams(max_tokens=40, constraint=SelectionConstraint(10, 5)),
                   GenerationParams(max_tokens=40, temperature=1.0, seed=1, constraint=SelectionConstraint(10, 5))):
        outs = smol_engine.generate(prompts, params)
        ok = 0
        for (q, ps), [c] in zip(rows, outs):
            parsed = parse_selection(c.text, len(ps))
            assert parsed.status in ("ok", "repaired"), c.text
            assert parsed.ids and all(1 <= i <= len(ps) for i in parsed.ids)
            assert len(parsed.ids) == len(set(parsed.ids)) <= 5
            ok += 1
        assert ok == 20


@pytest.mark.timeout(300)
def test_two_phase_iri_gives_final_selection(smol_engine, data_dir):
    """Free IRI reasoning, then the constrained selection: a parseable final line."""
    [(q, ps)] = hotpot_rows(data_dir, 1)
    messages = render("setr_iri", question=q, passages=ps, max_words=80)
    [[reasoning]] = smol_engine.generate([messages], GenerationParams(max_tokens=64, stop=("### Final Selection",)))
    params = GenerationParams(max_tokens=30, prefix=reasoning.text.rstrip() + "\n",
                              constraint=SelectionConstraint(len(ps)))
    [[final]] = smol_engine.generate([messages], params)
    assert final.text.startswith(reasoning.text.rstrip())
    parsed = parse_selection(final.text, len(ps))
    assert parsed.status == "ok" and parsed.ids


@pytest.mark.timeout(300)
def test_score_answer_tokens(smol_engine):
    messages = render("answer", question="What is the capital of France?", passages=[
        {"title": "Paris", "text": "Paris is the capital and largest city of France."}])
    good, bad = smol_engine.score([messages, messages], ["Paris", "Tokyo"])
    assert len(good.token_logprobs) >= 1 and all(v <= 0 for v in good.token_logprobs)
    assert good.mean_nll < bad.mean_nll
