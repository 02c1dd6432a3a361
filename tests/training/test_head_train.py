"""The llm_head trainer (issue 18): pure helpers by hand, config validation, a real training run on
real training questions (tiny random Llama, SmolLM2's tokenizer) used through the selector, and a
kill -9 mid-run that resumes to the same weights as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from setsel.training.head import HeadTrainConfig, lr_factor, permuted, pinned, schedule
from setsel.types import Candidates, Passage, Query

REPO = Path(__file__).resolve().parents[2]


def test_permuted_keeps_labels_with_their_passages():
    c = Candidates(Query("q", "Q?", gold_passage_ids=["p2", "p4"]),
                   [Passage(f"p{i}", f"T{i}", f"text {i}") for i in range(6)])
    shown, labels = permuted(c, "0:0:q")
    assert sorted(shown) == sorted((f"T{i}", f"text {i}") for i in range(6))
    assert {t for (t, _), y in zip(shown, labels) if y} == {"T2", "T4"}
    assert permuted(c, "0:0:q") == (shown, labels)                    # seeded
    assert [permuted(c, f"0:{e}:q")[0] for e in range(4)] != [shown] * 4   # a new order per epoch


def test_pinned_second_hop_reads_move_one_gold_passage_to_the_known_line():
    c = Candidates(Query("q", "Q?", gold_passage_ids=["p2", "p4", "p5"]),
                   [Passage(f"p{i}", f"T{i}", f"text {i}") for i in range(6)])
    shown, labels = permuted(c, "0:0:q")
    assert pinned(shown, labels, "k", 0.0) == (None, shown, labels)                 # off: the plain read
    reads = [pinned(shown, labels, f"0:{e}:q:pin", 1.0) for e in range(20)]
    for known, rest, rest_labels in reads:
        assert known in {("T2", "text 2"), ("T4", "text 4"), ("T5", "text 5")} and known not in rest
        assert len(rest) == 5 and sum(rest_labels) == 2.0                        # the other two stay gold
        assert {t for (t, _), y in zip(rest, rest_labels) if y} == {"T2", "T4", "T5"} - {known[0]}
        assert [p for p in shown if p != known] == rest                           # pool order kept
    assert len({r[0] for r in reads}) == 3                                        # each gold passage gets pinned
    assert pinned(shown, labels, "0:3:q:pin", 1.0) == reads[3]                    # seeded
    half = [pinned(shown, labels, f"0:{e}:q:pin", 0.5)[0] is not None for e in range(200)]
    assert 70 <= sum(half) <= 130
    one_gold = Candidates(Query("r", "R?", gold_passage_ids=["p1"]), c.passages)
    s1, l1 = permuted(one_gold, "0:0:r")
    assert all(pinned(s1, l1, f"{e}", 1.0) == (None, s1, l1) for e in range(10))  # nothing left to find


def test_schedule_and_learning_rate_by_hand():
    order = schedule(4, 3, seed=1)
    assert len(order) == 12 and [e for e, _, _ in order] == [0] * 4 + [1] * 4 + [2] * 4
    assert all(sorted(i for e, i, _ in order if e == k) == [0, 1, 2, 3] for k in range(3))
    assert {r for _, _, r in order} == {0}
    assert order == schedule(4, 3, seed=1) and order != schedule(4, 3, seed=2)
    # repeats: question 2 read 3 times an epoch (reads 0, 1, 2), the others once; one read each = no reads
    rep = schedule(4, 2, seed=1, reads=[1, 1, 3, 1])
    assert len(rep) == 12 and all(sorted((i, r) for e, i, r in rep if e == k) ==
                                  [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (3, 0)] for k in range(2))
    assert schedule(4, 3, seed=1, reads=[1, 1, 1, 1]) == order
    with pytest.raises(ValueError, match="3 entries for 4"):
        schedule(4, 1, seed=0, reads=[1, 1, 1])
    # warm-up 2 of 10 steps: 1/2, 2/2, then (10 - s) / 8
    assert [lr_factor(s, 10, 2) for s in (0, 1, 2, 6, 9)] == [0.5, 1.0, 1.0, 0.5, 0.125]


def test_config_file_and_validation():
    from setsel.config import ConfigError, load_config

    cfg = load_config(HeadTrainConfig, REPO / "configs" / "train_head.yaml")
    assert (cfg.keep_layers, cfg.lora_layers, cfg.max_words, cfg.out) == (20, 10, 64, "runs/llm_head")
    with pytest.raises(ConfigError, match="lora_layers"):
        load_config(HeadTrainConfig, None, ["keep_layers=4", "lora_layers=8"])
    with pytest.raises(ConfigError, match="dev_fraction"):
        load_config(HeadTrainConfig, None, ["dev_fraction=0"])
    with pytest.raises(ConfigError, match="precision"):
        load_config(HeadTrainConfig, None, ["precision=fp8"])
    with pytest.raises(ConfigError, match="pin_fraction"):
        load_config(HeadTrainConfig, None, ["pin_fraction=1.5"])
    with pytest.raises(ConfigError, match="feedback_weights"):
        load_config(HeadTrainConfig, None, ["feedback_weights=[]"])
    with pytest.raises(ConfigError, match="listwise_weight"):
        load_config(HeadTrainConfig, None, ["listwise_weight=-1"])
    assert load_config(HeadTrainConfig, None, ["listwise_weight=0.5"]).listwise_weight == 0.5
    with pytest.raises(ConfigError, match="second_hop_mixes"):
        load_config(HeadTrainConfig, None, ["second_hop_mixes=[0]"])
    with pytest.raises(ConfigError, match="repeats"):
        load_config(HeadTrainConfig, None, ["repeats={musique-train: 0}"])
    assert load_config(HeadTrainConfig, None, ["repeats={musique-train: 3}"]).repeats == {"musique-train": 3}


def _config(tiny_llama_dir, out, **extra) -> HeadTrainConfig:
    from setsel.synthesis.job import DatasetSpec

    return HeadTrainConfig(**{**dict(
        datasets=[DatasetSpec(name="hotpotqa-train", limit=12)], out=str(out), base_model=str(tiny_llama_dir),
        keep_layers=None, lora_layers=2, lora_r=4, lora_alpha=8, head_inner=16, max_words=20, epochs=2, grad_accum=2,
        lr=5e-3, head_lr=1e-2, dev_fraction=0.2, precision="fp32", num_threads=1, checkpoint_every=1,
        logging_steps=1, progress=False), **extra})


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_trains_tunes_and_selects_through_the_selector(tiny_llama_dir, data_dir, tmp_path):
    from setsel.datasets import load_dataset
    from setsel.selection import get_selector
    from setsel.selection.head_model import HEAD_FILE, META_FILE
    from setsel.training.head import train_head

    meta = train_head(_config(tiny_llama_dir, tmp_path / "head"))
    out = tmp_path / "head"
    assert {META_FILE, HEAD_FILE, "adapter_model.safetensors", "metrics.jsonl", "train_loss.png"} <= \
        {p.name for p in out.iterdir()}
    assert not (out / "checkpoint.pt").exists()
    # 12 questions, 20% held out -> 10 trained x 2 epochs / 2 per step = 10 steps
    assert (meta["train"]["questions"], meta["train"]["steps"], meta["tuned_on"]) == (10, 10, 2)
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 11)) and all(r["loss"] > 0 for r in rows)
    saved = json.loads((out / META_FILE).read_text())
    assert saved["threshold"] == meta["threshold"] and saved["layout_version"] == 1 and saved["max_words"] == 20
    # both rules were tuned on the held-out questions; the better one is recorded as the rule
    rules = saved["tuned_rules"]
    assert saved["rule"] in rules and saved["tuned_set_f1"] == max(r["set_f1"] for r in rules.values())
    # ... for every BM25 fusion weight of the grid; the recorded weight is the best one (ties: smaller w)
    by_weight = saved["tuned_lexical_weights"]
    assert set(by_weight) == {"0.0", "0.5", "1.0", "1.5", "2.0"}
    assert saved["tuned_set_f1"] == max(by_weight.values()) == by_weight[str(saved["lexical_weight"])]
    assert saved["lexical_weight"] == min(float(w) for w, f1 in by_weight.items() if f1 == saved["tuned_set_f1"])
    by_feedback = saved["tuned_feedback_weights"]          # ... and every lexical feedback weight
    assert set(by_feedback) == {"0.0", "0.5", "1.0", "1.5", "2.0"}
    assert saved["tuned_set_f1"] == max(by_feedback.values()) == by_feedback[str(saved["feedback_weight"])]

    dev = load_dataset("hotpotqa-ircot", limit=3)
    sel = get_selector("llm_head", model=str(out), dtype="fp32")
    for c, s in zip(dev, sel.select(dev)):
        assert 1 <= len(s.selected_ids) <= 5 and set(s.selected_ids) <= set(c.ids)
        assert s.parse_status == "ok" and s.prompt_tokens > 100
        assert len(s.raw_output.split()) == len(c.passages)      # one logit per passage
    scores = sel.scores(dev[:1])[0]
    assert scores == pytest.approx(sel.scores(dev[:1])[0])      # deterministic
    low = get_selector("llm_head", model=str(out), dtype="fp32", threshold=-1e9, max_passages=4).select(dev[:1])[0]
    assert len(low.selected_ids) == 4                             # everything clears it: capped


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_listwise_term_adds_to_the_bce_loss(tiny_llama_dir, data_dir, tmp_path):
    from setsel.training.head import train_head

    def first_loss(name, **extra):
        meta = train_head(_config(tiny_llama_dir, tmp_path / name, max_steps=1, **extra))
        assert meta["train"]["config"]["listwise_weight"] == extra.get("listwise_weight", 0.0)
        return json.loads((tmp_path / name / "metrics.jsonl").read_text().splitlines()[0])["loss"]

    # step 1 runs the same initial weights on the same pools: only the loss differs, and the
    # listwise term (−log of a probability < 1 for every gold passage) is strictly positive
    bce = first_loss("bce")
    assert first_loss("listwise", listwise_weight=1.0) > bce + 0.1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_second_hop_training_tunes_the_mix_and_selects_with_two_reads(tiny_llama_dir, data_dir, tmp_path):
    from setsel.datasets import load_dataset
    from setsel.selection import get_selector
    from setsel.selection.head_model import META_FILE
    from setsel.training.head import train_head

    out = tmp_path / "pin"
    meta = train_head(_config(tiny_llama_dir, out, pin_fraction=1.0))
    saved = json.loads((out / META_FILE).read_text())
    by_mix = saved["tuned_second_hop_mixes"]
    assert set(by_mix) == {"0.0", "0.5", "1.0"}                 # one read, and the two mixes of the grid
    assert saved["tuned_set_f1"] == max(by_mix.values()) == by_mix[str(saved["second_hop_mix"])]
    assert meta["train"]["config"]["pin_fraction"] == 1.0
    dev = load_dataset("hotpotqa-ircot", limit=2)
    one = get_selector("llm_head", model=str(out), dtype="fp32", second_hop_mix=0).select(dev)
    two = get_selector("llm_head", model=str(out), dtype="fp32", second_hop_mix=1.0).select(dev)
    for c, a, b in zip(dev, one, two):
        assert set(b.selected_ids) <= set(c.ids) and b.selected_ids[0] == a.selected_ids[0]
        assert b.prompt_tokens > a.prompt_tokens


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_repeats_read_one_datasets_questions_more_often(tiny_llama_dir, data_dir, tmp_path):
    from setsel.synthesis.job import DatasetSpec
    from setsel.training.cross_encoder import labelled_questions, split_questions
    from setsel.training.head import train_head

    two = [DatasetSpec(name="hotpotqa-train", limit=6), DatasetSpec(name="musique-train", limit=6)]
    with pytest.raises(ValueError, match=r"valid: \['hotpotqa-train', 'musique-train'\]"):
        train_head(_config(tiny_llama_dir, tmp_path / "bad", datasets=two, repeats={"2wiki-train": 2}))
    cfg = _config(tiny_llama_dir, tmp_path / "rep", datasets=two, repeats={"musique-train": 3}, epochs=2, max_steps=1)
    sources: dict[str, str] = {}
    train_q, dev_q = split_questions(labelled_questions(cfg, sources), cfg.dev_fraction, cfg.seed)
    n_musique = sum(sources[c.query.id] == "musique-train" for c in train_q)
    assert 0 < n_musique < len(train_q) and set(sources.values()) == {"hotpotqa-train", "musique-train"}
    meta = train_head(cfg)
    # every trained question once an epoch, the MuSiQue ones twice more; held-out questions untouched
    assert meta["train"]["examples"] == 2 * (len(train_q) + 2 * n_musique)
    assert (meta["train"]["questions"], meta["tuned_on"]) == (len(train_q), len(dev_q))


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_killed_run_resumes_to_the_uninterrupted_result(tiny_llama_dir, data_dir, tmp_path):
    import torch
    from safetensors.torch import load_file

    from setsel.training.head import train_head

    train_head(_config(tiny_llama_dir, tmp_path / "whole"))
    yaml = tmp_path / "cfg.yaml"
    cfg = _config(tiny_llama_dir, tmp_path / "killed")
    lines = [f"{k}: {json.dumps(v)}" for k, v in cfg.__dict__.items() if k != "datasets"]
    yaml.write_text("\n".join(lines + ["datasets: [{name: hotpotqa-train, limit: 12}]"]) + "\n")
    env = dict(os.environ, SETSEL_DATA_DIR=str(data_dir))
    cmd = [sys.executable, "-m", "setsel", "train-head", "--config", str(yaml)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = tmp_path / "killed" / "checkpoint.pt", time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = torch.load(ckpt, weights_only=False)["step"]
    assert 1 <= step < 10
    with (tmp_path / "killed" / "metrics.jsonl").open("a") as fh:   # as if killed after logging step+1, before its checkpoint
        fh.write(json.dumps({"step": step + 1, "loss": 9.0}) + "\n")
    changed = subprocess.run(cmd + ["--set", "lr=0.001"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=240)
    assert changed.returncode != 0 and "another config" in changed.stderr   # refused, checkpoint kept
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(r)["step"] for r in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert rows == list(range(1, 11))                              # nothing lost, nothing repeated
    a = load_file(str(tmp_path / "whole" / "head.safetensors"))
    b = load_file(str(tmp_path / "killed" / "head.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_floor_and_threshold_tuned_together_by_hand():
    from setsel.selection.cross_encoder import select_by_threshold
    from setsel.training.cross_encoder import tune_threshold, tune_threshold_and_floor

    scores, gold = [[3.0, 1.0, 0.0], [3.0, 2.0, 2.5]], [{0, 1}, {0, 2}]
    # floor 1: best t=1.0 -> q1 {0,1} F1 1, q2 {0,2,1} F1 .8 -> .9 (threshold halfway to 0.0)
    assert tune_threshold(scores, gold) == (0.5, 0.9)
    # floor 2: t=3.0 already gives both questions their top two = gold -> 1.0 (halfway to 2.5)
    assert tune_threshold(scores, gold, min_passages=2) == (2.75, 1.0)
    assert tune_threshold_and_floor(scores, gold, max_passages=5) == (2.75, 2, 1.0)
    # equal F1: the smaller floor wins; a floor above max_passages is not tried
    assert tune_threshold_and_floor([[2.0, 0.0]], [{0}], max_passages=1) == (1.0, 1, 1.0)
    assert select_by_threshold([0.1, 0.9, 0.5], 0.8, floor=2) == [1, 2]
    assert select_by_threshold([0.1, 0.9, 0.5], 0.0, cap=2, floor=3) == [1, 2]
    assert select_by_threshold([], 0.0, floor=2) == []
