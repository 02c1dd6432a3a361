"""TREC run/qrels files (setsel.evaluation.trec) and setsel's MRR@10 / NDCG@10 against ir-measures
(pytrec_eval, i.e. trec_eval's code) on real dev pools, to 1e-6."""

import io
import json

import pytest

from setsel.evaluation import metrics as M
from setsel.evaluation.trec import read_run, write_qrels, write_run

ir_measures = pytest.importorskip("ir_measures")
pytestmark = pytest.mark.timeout(300)


def test_run_lines_ranks_scores_and_duplicates(tmp_path):
    path = tmp_path / "run.trec"
    n = write_run(path, [("q1", ["a", "b", "a", "c"], None), ("q2", ["x", "y"], [3.5, 1.25]), ("q3", ["u", "v"], [1.0, 1.0])])
    lines = path.read_text().splitlines()
    assert n == 7 and lines[:3] == ["q1 Q0 a 1 3 setsel", "q1 Q0 b 2 2 setsel", "q1 Q0 c 3 1 setsel"]
    assert lines[3:5] == ["q2 Q0 x 1 3.5 setsel", "q2 Q0 y 2 1.25 setsel"]
    assert lines[5:] == ["q3 Q0 u 1 2 setsel", "q3 Q0 v 2 1 setsel"]  # tied scores replaced: order kept
    assert read_run(path) == {"q1": ["a", "b", "c"], "q2": ["x", "y"], "q3": ["u", "v"]}


def test_bad_ids_and_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="contains whitespace"):
        write_run(io.StringIO(), [("q 1", ["a"], None)])
    with pytest.raises(ValueError, match="empty or contains whitespace"):
        write_qrels(io.StringIO(), [("q1", [""])])
    with pytest.raises(ValueError, match="2 scores for 1 ids"):
        write_run(io.StringIO(), [("q1", ["a"], [1.0, 2.0])])
    bad = tmp_path / "bad.trec"
    bad.write_text("q1 Q0 a 1 high run\n")
    with pytest.raises(ValueError, match="bad.trec:1: score 'high'"):
        read_run(bad)
    bad.write_text("q1 a 1\n")
    with pytest.raises(ValueError, match="6 fields"):
        read_run(bad)


def _check_against_ir_measures(tmp_path, rankings: dict[str, list[str]], gold: dict[str, list[str]]):
    write_run(tmp_path / "run.trec", [(q, ids, None) for q, ids in rankings.items()])
    write_qrels(tmp_path / "qrels.trec", [(q, g) for q, g in gold.items() if g])
    qrels = list(ir_measures.read_trec_qrels(str(tmp_path / "qrels.trec")))
    run = list(ir_measures.read_trec_run(str(tmp_path / "run.trec")))
    theirs = {(m.query_id, str(m.measure)): m.value
              for m in ir_measures.iter_calc([ir_measures.RR @ 10, ir_measures.nDCG @ 10], qrels, run)}
    labelled = [q for q in rankings if gold.get(q)]
    assert len(labelled) >= 20
    for q in labelled:
        assert M.mrr_at_k(rankings[q], gold[q], 10) == pytest.approx(theirs.get((q, "RR@10"), 0.0), abs=1e-6)
        assert M.ndcg_at_k(rankings[q], gold[q], 10) == pytest.approx(theirs.get((q, "nDCG@10"), 0.0), abs=1e-6)
    return labelled


@pytest.mark.parametrize("dataset,data", [("hotpotqa-ircot", "hotpotqa_ircot500/dev.jsonl"),
                                          ("openret", "openret_bge/musique")])
def test_rank_metrics_match_ir_measures_on_dev_pools(data_dir, tmp_path, dataset, data):
    from setsel.datasets import load_dataset
    from setsel.selection import shuffle_candidates

    pools = load_dataset(dataset, data_dir / data, limit=150)
    # the retriever's order, and a shuffled one (gold anywhere in the top 10)
    for seed in (None, 7):
        cands = pools if seed is None else [shuffle_candidates(c, seed) for c in pools]
        rankings = {c.query.id: c.ids for c in cands}
        gold = {c.query.id: [g for g in c.query.gold_passage_ids if g in set(c.ids)] for c in cands}
        _check_against_ir_measures(tmp_path, rankings, gold)


def test_eval_writes_trec_files_that_reproduce_its_metrics(data_dir, tmp_path):
    from setsel.evaluation.job import EvalJobConfig, run_eval

    cfg = EvalJobConfig(dataset="musique", data=str(data_dir / "musique_migres200/dev.jsonl"), method="lexical", k=3,
                        limit=60, shuffle_candidates=0, out=str(tmp_path / "eval"), progress=False)
    _, paths = run_eval(cfg)
    metrics = json.loads(paths["metrics"].read_text())
    qrels = list(ir_measures.read_trec_qrels(str(paths["trec_qrels"])))
    run = list(ir_measures.read_trec_run(str(paths["trec_run"])))
    n_labelled = len({q.query_id for q in qrels})
    for measure, key in ((ir_measures.RR @ 10, "mrr@10"), (ir_measures.nDCG @ 10, "ndcg@10")):
        values = [m.value for m in ir_measures.iter_calc([measure], qrels, run)]
        # queries with gold but an empty selection are absent from the run: they count 0, as in setsel
        assert sum(values) / n_labelled == pytest.approx(metrics[key], abs=1e-6)
    assert 0 < metrics["mrr@10"] < 1
