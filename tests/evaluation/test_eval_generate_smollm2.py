"""End-to-end answering with the embedded SmolLM2 (real model, CPU)."""

import pytest

from setsel.evaluation import metrics as M


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_generate_with_smollm2(data_dir):
    from setsel.datasets import load_dataset
    from setsel.engines import load_engine
    from setsel.evaluation.answer import answer_prompt
    from setsel.evaluation.runner import evaluate
    from setsel.selection import get_selector

    cands = load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500/dev.jsonl", limit=4)
    engine = load_engine("hf:smollm2-135m", num_threads=1)
    try:
        result = evaluate(cands, get_selector("topk", k=2), k=2, generate=True, generator=engine, progress=False,
                          batch_size=4, max_answer_tokens=16)
        again = evaluate(cands[:2], get_selector("topk", k=2), k=2, generate=True, generator=engine,
                         progress=False, batch_size=2, max_answer_tokens=16)
        expected_tokens = [engine.count_tokens(answer_prompt(engine, c, r.selected_ids, 16))
                           for c, r in zip(cands, result.rows)]
    finally:
        engine.close()
    m = result.metrics
    assert m["n_queries"] == 4 and m["em"] is not None and m["f1"] is not None and m["accuracy"] is not None
    for row, c, tokens in zip(result.rows, cands, expected_tokens):
        assert row.prediction and row.prediction == row.prediction.strip() and "\n" not in row.prediction
        assert row.generator_prompt_tokens == tokens
        assert row.em == M.exact_match(row.prediction, c.query.answers)
        assert row.f1 == M.token_f1(row.prediction, c.query.answers)
    assert m["generator_prompt_tokens"] == sum(expected_tokens) / 4
    # greedy: the same question gives the same answer, whatever the batch
    assert [r.prediction for r in again.rows] == [r.prediction for r in result.rows[:2]]
