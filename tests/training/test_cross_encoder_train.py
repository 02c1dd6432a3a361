"""The trained cross-encoder baseline (issue 18): threshold tuning by hand, pairs, split, config, CLI,
and (slow) a real few-step training on real training questions used through the selector."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from setsel.config import ConfigError, load_config
from setsel.evaluation.metrics import set_prf
from setsel.selection.cross_encoder import select_by_threshold
from setsel.training.cross_encoder import (CrossEncoderTrainConfig, make_pairs, split_questions,
                                           tune_threshold)
from setsel.types import Candidates, Passage, Query

REPO = Path(__file__).resolve().parents[2]


def test_tune_threshold_hand_computed():
    # candidates 3.0 2.5 2.0 1.5 1.0 0.5 0.0; mean F1: t=3.0 -> (2/3 + 1)/2, t=2.0 -> (1 + 1)/2 = 1 (best),
    # t=1.5 -> (1 + 2/3)/2; the threshold is halfway between 2.0 and the next lower score 1.5
    scores = [[3.0, 1.0, 2.0, 0.0], [0.5, 2.5, 1.5]]
    assert tune_threshold(scores, [{0, 2}, {1}], max_passages=3) == (1.75, 1.0)


def test_tune_threshold_cap_ties_and_lowest():
    # gold 3 of 4: t=4 -> F1 0.5, t=3 -> 0.8, t=2 -> 1.0 uncapped but 0.8 with at most 2 passages
    assert tune_threshold([[4.0, 3.0, 2.0, 1.0]], [{0, 1, 2}], max_passages=2) == (2.5, 0.8)
    assert tune_threshold([[4.0, 3.0, 2.0, 1.0]], [{0, 1, 2}], max_passages=None) == (1.5, 1.0)
    # every threshold gives F1 1 with one passage at most: the highest wins
    assert tune_threshold([[3.0, 2.0, 1.0]], [{0}], max_passages=1) == (2.5, 1.0)
    # the lowest score wins: it is returned itself
    assert tune_threshold([[1.0, 2.0]], [{0, 1}]) == (1.0, 1.0)
    # at t=5 no passage of question 2 clears it: it still selects its best one (gold), so t=5 gives F1 1
    assert tune_threshold([[5.0, 0.0], [1.0, 0.5]], [{0}, {0}], max_passages=2) == (3.0, 1.0)
    with pytest.raises(ValueError):
        tune_threshold([[1.0]], [])


def test_tune_threshold_agrees_with_the_selection_rule():
    rng = random.Random(3)
    scores = [[round(rng.uniform(-3, 3), 2) for _ in range(rng.randint(2, 10))] for _ in range(30)]
    gold = [set(rng.sample(range(len(s)), rng.randint(1, min(3, len(s))))) for s in scores]
    t, f1 = tune_threshold(scores, gold, max_passages=4)
    chosen = [select_by_threshold(s, t, 4) for s in scores]
    assert all(1 <= len(c) <= 4 for c in chosen)
    assert f1 == pytest.approx(sum(set_prf(c, g)[2] for c, g in zip(chosen, gold)) / len(scores))
    for cand in sorted({x for s in scores for x in s}):   # no candidate does better
        mean = sum(set_prf(select_by_threshold(s, cand, 4), g)[2] for s, g in zip(scores, gold)) / len(scores)
        assert mean <= f1 + 1e-12


def _cands(qid: str, n: int, gold: list[int]) -> Candidates:
    passages = [Passage(id=f"{qid}-p{i}", title=f"T{i}", text=f"text {i}") for i in range(n)]
    return Candidates(query=Query(id=qid, question=f"question {qid}?",
                                  gold_passage_ids=[f"{qid}-p{i}" for i in gold]), passages=passages)


def test_make_pairs_labels_and_negative_sampling():
    qs = [_cands("a", 4, [1]), _cands("b", 10, [0, 5])]
    full = make_pairs(qs)
    assert len(full["label"]) == 14 and sum(full["label"]) == 3.0
    assert full["question"][0] == "question a?" and full["passage"][1] == "T1: text 1" and full["label"][1] == 1.0
    few = make_pairs(qs, negatives_per_positive=1.5, seed=0)
    # a: 1 gold + ceil(1.5) = 2 negatives; b: 2 gold + 3 negatives; gold always kept, pool order kept
    assert len(few["label"]) == 8 and sum(few["label"]) == 3.0
    assert few == make_pairs(qs, negatives_per_positive=1.5, seed=0)
    assert len(make_pairs(qs, negatives_per_positive=0)["label"]) == 3


def test_split_questions_is_seeded_and_disjoint():
    qs = [_cands(f"q{i}", 3, [0]) for i in range(20)]
    train, dev = split_questions(qs, 0.1, seed=0)
    assert len(dev) == 2 and len(train) == 18
    assert not {c.query.id for c in train} & {c.query.id for c in dev}
    assert [c.query.id for c in dev] == [c.query.id for c in split_questions(qs, 0.1, seed=0)[1]]
    assert len(split_questions(qs[:2], 0.01, seed=1)[1]) == 1   # at least one held out, one kept


def test_config_file_and_validation():
    cfg = load_config(CrossEncoderTrainConfig, REPO / "configs" / "train_cross_encoder.yaml")
    assert cfg.out == "runs/cross_encoder" and cfg.base_model is None and cfg.num_threads == 2
    assert cfg.data == "configs/synthesize_gold_judgements.yaml"
    with pytest.raises(ConfigError, match="dev_fraction"):
        load_config(CrossEncoderTrainConfig, None, ["dev_fraction=1.0"])
    with pytest.raises(ConfigError, match="device"):
        load_config(CrossEncoderTrainConfig, None, ["device=tpu"])
    proc = subprocess.run([sys.executable, "-m", "setsel", "train-cross-encoder", "--config",
                           "configs/train_cross_encoder.yaml", "--set", "epochs=2", "--print-config"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["epochs"] == 2


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_train_cross_encoder_end_to_end_then_select(tmp_path, data_dir, monkeypatch):
    import torch

    from setsel.datasets import load_dataset
    from setsel.selection import get_selector
    from setsel.selection.mmr import passage_text
    from setsel.synthesis.job import DatasetSpec
    from setsel.training.cross_encoder import train_cross_encoder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    threads = torch.get_num_threads()
    out = tmp_path / "ce"
    cfg = CrossEncoderTrainConfig(data=str(REPO / "configs" / "synthesize_gold.yaml"),
                                  datasets=[DatasetSpec(name="hotpotqa-train", limit=8)], out=str(out),
                                  max_length=64, max_steps=3, batch_size=8, dev_fraction=0.25, max_passages=3,
                                  num_threads=1, device="cpu", logging_steps=1)
    try:
        meta = train_cross_encoder(cfg)
    finally:
        torch.set_num_threads(threads)
    saved = json.loads((out / "setsel_selector.json").read_text())
    assert saved == json.loads(json.dumps(meta))
    assert meta["tuned_on"] == 2 and meta["max_passages"] == 3 and meta["max_length"] == 64
    assert meta["train"]["questions"] == 6 and meta["train"]["steps"] == 3 and meta["train"]["pairs"] > 0
    assert 0.0 < meta["tuned_set_f1"] <= 1.0 and not (out / "checkpoints").exists()
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()

    sel = get_selector("cross_encoder", model=str(out), device="cpu")
    assert sel.threshold == saved["threshold"] and sel.cap == 3 and sel.max_length == 64
    batch = load_dataset("hotpotqa-ircot", limit=2)
    picks = sel.select(batch)
    for c, s in zip(batch, picks):
        assert 1 <= len(s.selected_ids) <= 3 and set(s.selected_ids) <= set(c.ids)
        scores = sel.score([(c.query.question, passage_text(p)) for p in c.passages])
        expected = select_by_threshold(scores, saved["threshold"], 3)
        assert s.selected_ids == [c.passages[i].id for i in expected]
    sel.close()
