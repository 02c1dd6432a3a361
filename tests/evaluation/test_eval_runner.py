"""The evaluation runner and report on hand-made pools (hand-computed) and on real data."""

import json
import math

import pytest

from setsel.evaluation.answer import Answer, first_line
from setsel.evaluation.runner import METRIC_KEYS, build_result, evaluate, topk_curve
from setsel.selection import get_selector
from setsel.types import Candidates, Completion, Passage, Query, Selection


def _tiny():
    q1 = Candidates(query=Query(id="q1", question="Who wrote B?", answers=["Ann Lee"], gold_passage_ids=["b", "d"],
                                evidence=["Ann Lee wrote B", "born in 1970"]),
                    passages=[Passage(id=i, title=i.upper(), text=t) for i, t in
                              [("a", "x y"), ("b", "Ann Lee wrote B."), ("c", "x y"), ("d", "She was born in 1970.")]])
    q2 = Candidates(query=Query(id="q2", question="What?", answers=["z"]),
                    passages=[Passage(id=i, title="", text=i) for i in ("u", "v", "w")])
    return [q1, q2]


def test_topk_metrics_hand_computed():
    result = evaluate(_tiny(), get_selector("topk", k=2), k=2, progress=False, dataset="tiny")
    m = result.metrics
    assert list(m) == list(METRIC_KEYS)
    # q1: selected [a, b], gold {b, d} → P = R = F1 = 1/2, hit@2 = 1, MRR = 1/2,
    # NDCG = (1/log2 3) / (1 + 1/log2 3); q2 has no gold: excluded from retrieval means
    assert (m["n_queries"], m["avg_selected"]) == (2, 2.0)
    assert (m["set_precision"], m["set_recall"], m["set_f1"], m["hit"], m["mrr@10"]) == (0.5, 0.5, 0.5, 1.0, 0.5)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3)) / (1 + 1 / math.log2(3)))
    # coverage: "ann lee wrote b" is in passage b; "born in 1970" is not in a or b → 1/2 (q2 has no evidence)
    assert m["coverage"] == 0.5
    # novelty, Jaccard on normalised token sets: q1 texts "A x y", "B Ann Lee wrote B." → {a,x,y} vs {b,ann,lee,wrote}
    # (the article "a" is dropped by normalisation: {x,y} vs {b,ann,lee,wrote}) → g = [1, 1]; q2 "u","v" → [1, 1]
    assert m["novelty_jaccard"] == 1.0
    for key in ("em", "f1", "accuracy", "parse_failed_rate", "fallback_rate", "selector_completion_tokens",
                "generator_prompt_tokens"):
        assert m[key] is None, key
    assert (m["method"], m["model"], m["dataset"], m["k"]) == ("topk", None, "tiny", 2)
    row1, row2 = result.rows
    assert row1.selected_ids == ["a", "b"] and row1.gold_ids == ["b", "d"] and row1.parse_status == "ok"
    assert row2.set_precision is None and row2.hit is None and row2.coverage is None


def test_topk_curve_hand_computed():
    curve = topk_curve(_tiny(), 4)
    # only q1 is labelled: k=1 [a] → P 0 R 0; k=2 → .5/.5; k=3 → 1/3, .5; k=4 → .5, 1
    assert [(c["k"], c["precision"], c["recall"]) for c in curve] == [
        (1, 0.0, 0.0), (2, 0.5, 0.5), (3, pytest.approx(1 / 3), 0.5), (4, 0.5, 1.0)]


def test_duplicate_texts_lower_novelty():
    c = _tiny()[0]
    result = evaluate([c], get_selector("topk", k=3), k=3, progress=False)
    # texts "A x y", "B Ann Lee wrote B.", "C x y": {x,y}, {b,ann,lee,wrote}, {c,x,y}
    # g3 = 1 - J({c,x,y},{x,y}) = 1 - 2/3 → Novel = (1 + 1 + 1/3) / 3
    assert result.rows[0].novelty_jaccard == pytest.approx((2 + 1 / 3) / 3)
    assert result.rows[0].novelty_at_2 == 1.0


def test_llm_fields_and_answers_are_aggregated():
    cands = _tiny()
    sels = [Selection(query_id="q1", method="m", selected_ids=["b"], parse_status="failed", fallback_used="topk:1",
                      completion_tokens=10),
            Selection(query_id="q2", method="m", selected_ids=[], parse_status="ok", completion_tokens=20)]
    answers = [Answer(prediction="It was Ann Lee.", raw="It was Ann Lee.\nMore", prompt_tokens=100),
               Answer(prediction="y", raw="y", prompt_tokens=50)]
    m = build_result(cands, sels, answers, k=5, method="m", uses_llm=True).metrics
    assert (m["parse_failed_rate"], m["fallback_rate"], m["selector_completion_tokens"]) == (0.5, 0.5, 15.0)
    assert (m["em"], m["accuracy"], m["generator_prompt_tokens"]) == (0.5, 0.5, 75.0)
    # F1: q1 pred [it, was, ann, lee] vs [ann, lee] → P 1/2, R 1 → 2/3; q2 0 → mean 1/3
    assert m["f1"] == pytest.approx(1 / 3)
    assert m["avg_selected"] == 0.5 and m["set_precision"] == 1.0 and m["set_recall"] == 0.5
    with pytest.raises(ValueError, match="align"):
        build_result(cands, sels[:1], None, k=5, method="m", uses_llm=True)


class _EchoEngine:
    """A deterministic stand-in engine for the plumbing test: answers with the last title it was shown."""

    max_context = 10_000

    def __init__(self):
        self.prompts = []

    def count_tokens(self, messages):
        return sum(len(m["content"].split()) for m in messages)

    def generate(self, prompts, params):
        assert params.temperature == 0.0 and params.n == 1
        self.prompts.extend(prompts)
        out = []
        for p in prompts:
            text = p[-1]["content"]
            titles = [line.split("Title: ")[1].split(" Content:")[0] for line in text.splitlines() if "Title: " in line]
            out.append([Completion(text=f"\n{titles[-1] if titles else 'none'}\nextra", prompt_tokens=len(text.split()),
                                   completion_tokens=3, finish_reason="stop")])
        return out


def test_generation_plumbing_uses_the_answer_template_on_the_selection():
    engine = _EchoEngine()
    cands = [Candidates(query=Query(id="q", question="Which?", answers=["B"], gold_passage_ids=["b"]),
                        passages=[Passage(id="a", title="A", text="x"), Passage(id="b", title="B", text="y")])]
    result = evaluate(cands, get_selector("topk", k=2), k=2, generate=True, generator=engine, progress=False)
    [prompt] = engine.prompts
    assert "Answer the question below concisely" in prompt[-1]["content"]
    assert "[1] Title: A Content: x" in prompt[-1]["content"] and "[2] Title: B Content: y" in prompt[-1]["content"]
    row = result.rows[0]
    assert row.prediction == "B" and row.generator_output == "\nB\nextra"  # first non-empty line
    assert (row.em, row.f1, row.accuracy) == (1.0, 1.0, 1.0)
    assert result.metrics["generator_prompt_tokens"] == float(len(prompt[-1]["content"].split()))
    assert first_line("\n  \n ok \nno") == "ok" and first_line("") == ""


def test_same_seed_same_results_on_real_data(data_dir):
    from setsel.datasets import load_dataset

    cands = load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500/dev.jsonl")
    runs = [evaluate(cands, get_selector("topk", k=3), k=3, shuffle_seed=11, limit=60, progress=False, batch_size=7)
            for _ in range(2)]
    strip = [{k: v for k, v in r.metrics.items() if k != "wall_s"} for r in runs]
    assert strip[0] == strip[1]
    assert [r.to_dict() | {"latency_s": 0} for r in runs[0].rows] == [r.to_dict() | {"latency_s": 0}
                                                                       for r in runs[1].rows]
    plain = evaluate(cands, get_selector("topk", k=3), k=3, limit=60, progress=False)
    assert [r.selected_ids for r in plain.rows] != [r.selected_ids for r in runs[0].rows]
    for shuffled, orig, c in zip(runs[0].rows, plain.rows, cands):
        assert sorted(shuffled.pool_ids) == sorted(orig.pool_ids) == sorted(c.ids)
        assert shuffled.gold_ids == orig.gold_ids  # gold labels follow the passages
        assert shuffled.selected_ids == shuffled.pool_ids[:3]
    assert plain.metrics["n_queries"] == 60 and plain.metrics["avg_selected"] == 3.0


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(_tiny(), get_selector("topk"), k=2, batch_size=0, progress=False)


def test_report_files(tmp_path):
    import pyarrow.parquet as pq

    from setsel.evaluation.report import write_report
    from setsel.evaluation.runner import QueryResult
    from setsel.io import read_metadata

    result = evaluate(_tiny(), get_selector("topk", k=2), k=2, progress=False, dataset="tiny")
    paths = write_report(result, tmp_path / "out", settings={"data": "tiny.jsonl"})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "metrics.json", "per_query.parquet", "qrels.trec", "report.md", "run.trec", "set_sizes.png", "topk_pr.png"]
    metrics = json.loads(paths["metrics"].read_text())
    assert list(metrics) == list(METRIC_KEYS) and metrics["coverage"] == 0.5 and metrics["em"] is None
    table = pq.read_table(paths["per_query"])
    assert table.num_rows == 2
    assert set(table.column_names) >= {"query_id", "question", "selected_ids", "gold_ids", "set_precision",
                                       "raw_output", "parse_status", "fallback_used", "prediction"}
    assert json.loads(table.column("selected_ids")[0].as_py()) == ["a", "b"]
    assert read_metadata(paths["per_query"])["data"] == "tiny.jsonl"
    assert set(QueryResult.__dataclass_fields__) == set(table.column_names)
    for png in ("set_sizes_png", "topk_pr_png"):
        assert paths[png].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["report"].read_text()
    assert "| set_precision | 0.5000 |" in md and "| em | — |" in md
    assert "![selected-set sizes](set_sizes.png)" in md and "1 of 2 questions have a gold passage" in md
