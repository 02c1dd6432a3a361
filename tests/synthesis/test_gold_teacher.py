"""The ``gold`` teacher (setsel.synthesis.gold) and gold mode of the synthesis job.

Pure parts on hand-built pools; the rest on the shared training and evaluation files
(skipped when the data directory is absent, through the ``data_dir`` fixture).
"""

from __future__ import annotations

import json
import random

import pytest

from setsel.config import build_config
from setsel.synthesis.gold import (NO_GOLD, NO_PASSAGES, alternative_sets, exclude_questions, gold_examples,
                                   hash_seed, normalise_question, set_preference)
from setsel.synthesis.sets import unpermute_ids
from setsel.types import Candidates, Passage, Query


def _cands(qid: str, n: int, gold: list[int], question: str = "?") -> Candidates:
    """A pool of ``n`` passages ``<qid>#1..n``; ``gold`` are 1-based positions."""
    passages = [Passage(id=f"{qid}#{i}", title=f"T{i}", text=f"text {i}") for i in range(1, n + 1)]
    return Candidates(query=Query(id=qid, question=question, answers=["a"],
                                  gold_passage_ids=[f"{qid}#{g}" for g in gold]), passages=passages)


# ----------------------------------------------------------------------------- pure
def test_set_preference_hand_computed():
    gold = {1, 2}
    assert set_preference([1, 2], gold) == 1.0                         # the gold set
    assert set_preference([2, 1, 1], gold) == 1.0                      # order and repeats ignored
    assert set_preference([1], gold) == round(2 * (2 / 3) - 1, 6) == 0.333333   # P=1, R=1/2, F1=2/3
    assert set_preference([1, 2, 3], gold) == 0.6                      # P=2/3, R=1, F1=0.8 → 2·0.8−1
    assert set_preference([1, 3], gold) == 0.0                         # P=R=1/2, F1=1/2
    assert set_preference([3, 4], gold) == -1.0                        # disjoint
    assert set_preference([], gold) == -1.0 and set_preference([1], set()) == -1.0


def test_alternative_sets_gold_first_then_plus_distractors_and_minus():
    rng = random.Random(0)
    sets = alternative_sets([3, 1], [2, 4, 5], rng)
    assert sets[0] == [1, 3]                                # gold (sorted) first
    plus, distractors = sets[1], sets[2]
    assert len(plus) == 3 and {1, 3} < set(plus) and (set(plus) - {1, 3}) <= {2, 4, 5} and plus == sorted(plus)
    assert len(distractors) == 2 and set(distractors) <= {2, 4, 5}
    assert sets[3:] == [[3], [1]]                           # then gold minus each passage
    assert len(sets) == 5
    # one gold passage: nothing to drop; no distractors: nothing to add
    assert alternative_sets([2], [1, 3], random.Random(0))[0] == [2] and len(alternative_sets([2], [1, 3], rng)) == 3
    assert alternative_sets([1, 2], [], random.Random(0)) == [[1, 2], [2], [1]]
    # fewer distractors than gold passages: as many as there are
    assert len(alternative_sets([1, 2, 3], [4], random.Random(0))[2]) == 1
    # a 4-passage gold set cut to 5 sets still keeps its P = -1 distractor set
    four = alternative_sets([1, 2, 3, 4], [5, 6, 7, 8, 9], random.Random(0))[:5]
    assert [set_preference(s, {1, 2, 3, 4}) for s in four][2] == -1.0


def test_normalise_exclude_and_hash_seed():
    assert normalise_question("  Who is  OLDER,\tAnnie\nMorton? ") == "who is older, annie morton?"
    a, b = _cands("a", 3, [1], question="Who wrote Hamlet?"), _cands("b", 3, [1], question="Fresh question")
    kept, refused = exclude_questions([a, b], {normalise_question(" WHO  wrote hamlet? ")})
    assert [c.query.id for c in kept] == ["b"] and refused == ["a"]
    # hash_seed is sha256-based, so stable across processes (unlike hash()); pinned values
    assert hash_seed(0, "q1", 0) == 2545554167565967297 and hash_seed(0, "q1", 1) == 7867488198448527238
    assert hash_seed(1, "q1", 0) != hash_seed(0, "q1", 0)


def test_gold_examples_on_hand_built_pools():
    pools = [_cands("both", 6, [2, 5]), _cands("partial", 5, [4]), _cands("none", 4, []),
             Candidates(query=Query(id="nogoldpresent", question="?", answers=["a"], gold_passage_ids=["elsewhere"]),
                        passages=[Passage(id="x", title="", text="x")]),
             Candidates(query=Query(id="empty", question="?", answers=["a"], gold_passage_ids=["e#1"]), passages=[])]
    examples, report = gold_examples(pools, permutations=3, seed=7)
    assert report.n_questions == 5 and report.n_kept == 2 and report.n_examples == 6 == len(examples)
    # "none" lists no gold and "nogoldpresent" lists one outside its pool: both have no target
    assert report.dropped == {NO_GOLD: 2, NO_PASSAGES: 1} and report.gold_sizes == {1: 1, 2: 1}
    assert [e.query_id for e in examples] == ["both@0", "both@1", "both@2", "partial@0", "partial@1", "partial@2"]
    for e in examples:
        assert e.metadata["source"] == "gold" and e.metadata["question_id"] == e.query_id.split("@")[0]
        assert e.answers == ["a"]
    # "partial" lists one gold id that is in its pool: that one is the target
    partial = examples[3]
    assert [partial.passages[i - 1].id for i in partial.sets[0]] == ["partial#4"]
    # SFT only: the gold set alone; max_sets caps the alternatives
    [only] = gold_examples([_cands("q", 6, [1, 2])], permutations=1, alternatives=False)[0]
    assert len(only.sets) == 1 and only.P == [1.0]
    capped = gold_examples([_cands("q", 10, [1, 2, 3, 4])], permutations=1, max_sets=2)[0][0]
    assert len(capped.sets) == 2 and capped.P[0] == 1.0
    for bad in ({"permutations": 0}, {"max_sets": 0}):
        with pytest.raises(ValueError):
            gold_examples(pools, **bad)


# ----------------------------------------------------------------------------- real training data
@pytest.fixture(scope="module")
def wiki5(data_dir):
    from setsel.datasets import load_dataset

    return load_dataset("2wiki-train", data_dir / "2wikimqa_train500_migres" / "train.jsonl", limit=5)


def test_permutation_round_trip_on_real_questions(wiki5):
    examples, report = gold_examples(wiki5, permutations=4, seed=0)
    assert report.n_kept == 5 and len(examples) == 20 and not report.dropped
    by_id = {c.query.id: c for c in wiki5}
    for e in examples:
        original = by_id[e.metadata["question_id"]]
        assert e.question == original.query.question and e.query_id == f"{original.query.id}@{e.metadata['copy']}"
        assert sorted(e.permutation) == list(range(len(original.passages)))
        # shown passage i is original passage perm[i]
        assert e.passages == [original.passages[j] for j in e.permutation]
        # the gold set, mapped back through the permutation, is exactly the gold passages of the pool
        back = unpermute_ids(e.sets[0], e.permutation)
        assert {original.passages[j - 1].id for j in back} == set(original.query.gold_passage_ids)
        # and in the shown order it names the same passages
        assert {e.passages[i - 1].id for i in e.sets[0]} == set(original.query.gold_passage_ids)
        # every alternative's P is its set F1 against the gold set, in either order
        gold_pos = {i for i, p in enumerate(original.passages, 1) if p.id in original.query.gold_passage_ids}
        for s, p in zip(e.sets, e.P):
            assert s == sorted(s) and set_preference(unpermute_ids(s, e.permutation), gold_pos) == p
    # the four copies of a question show four different orders
    for qid in by_id:
        perms = [tuple(e.permutation) for e in examples if e.metadata["question_id"] == qid]
        assert len(perms) == 4 and len(set(perms)) == 4


def test_gold_set_is_the_best_set(wiki5):
    examples, _ = gold_examples(wiki5, permutations=2, seed=0, max_sets=5)
    for e in examples:
        assert e.best_index == 0 and e.P[0] == 1.0 and all(p < 1.0 for p in e.P[1:])
        assert all(-1.0 <= p <= 1.0 for p in e.P) and 2 <= len(e.sets) <= 5
        assert len({tuple(s) for s in e.sets}) == len(e.sets)  # deduplicated
        if len(e.sets[0]) == 2:  # 2 gold: gold, plus one, distractors, minus one (×2) → a real negative
            assert e.P == [1.0, 0.6, -1.0, 0.333333, 0.333333] and e.worst_index == 2


def test_determinism(wiki5):
    a, _ = gold_examples(wiki5, permutations=3, seed=0)
    b, _ = gold_examples(wiki5, permutations=3, seed=0)
    c, _ = gold_examples(wiki5, permutations=3, seed=1)
    assert [e.to_dict() for e in a] == [e.to_dict() for e in b]
    assert [e.query_id for e in c] == [e.query_id for e in a]
    differ = sum(x.permutation != y.permutation for x, y in zip(a, c))
    assert differ >= len(a) - 1, differ  # 10! orders: a different seed moves (practically) every copy


def test_no_gold_rule_on_hotpotqa_amor(data_dir):
    from setsel.datasets import load_dataset
    from setsel.datasets.hotpotqa import count_rows_without_context

    path = data_dir / "hotpotqa_hard443_amor" / "train.jsonl"
    cands = load_dataset("hotpotqa-amor-train", path)
    _, report = gold_examples(cands, permutations=1)
    # SOURCES.md documents 68 of the 443 rows with no gold title in the pool. One of those 68 is
    # the row with no context at all, which the loader already skips (443 rows → 442 questions),
    # so the gold teacher sees 442 pools and drops 67 of them; 67 + 1 = 68.
    assert count_rows_without_context(path) == 1 and len(cands) == 442
    assert report.dropped == {NO_GOLD: 67} and report.n_kept == 442 - 67 == 375
    assert report.gold_sizes == {1: 245, 2: 130}  # both gold titles for 130, one for 245 (SOURCES.md)


# ----------------------------------------------------------------------------- the job in gold mode
def _hotpot_row(qid: str, question: str) -> dict:
    return {"_id": qid, "question": question, "answer": "yes", "type": "bridge", "level": "hard",
            "supporting_facts": [["Alpha", 0], ["Beta", 0]],
            "context": [["Alpha", ["Alpha is a thing."]], ["Gamma", ["Gamma is another thing."]],
                        ["Beta", ["Beta is related to Alpha."]], ["Delta", ["Delta is unrelated."]]]}


def test_job_refuses_evaluation_questions(tmp_path, data_dir, monkeypatch):
    from setsel.io import read_records
    from setsel.synthesis.job import SynthesisConfig, run
    from setsel.types import TrainExample

    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    with (data_dir / "hotpotqa_ircot500" / "dev.jsonl").open(encoding="utf-8") as fh:
        dev_question = json.loads(fh.readline())["question_text"]
    copied = "  " + dev_question.upper().replace(" ", "   \t") + " "   # same question, other case and spacing
    assert copied != dev_question and normalise_question(copied) == normalise_question(dev_question)
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r) for r in (_hotpot_row("copied", copied),
                                                       _hotpot_row("fresh", "Is Beta related to Alpha at all?"))))
    cfg = build_config(SynthesisConfig, {"out": str(tmp_path / "out"), "mode": "gold", "permutations": 3, "ray": {"enabled": False},
                                   "datasets": [{"name": "hotpotqa", "path": str(train)}],
                                   "exclude_eval": [{"name": "hotpotqa-ircot"}]})
    summary = run(cfg, progress=False)
    assert summary["refused_eval"] == 1 and summary["refused_eval_ids"] == ["copied"]
    assert summary["n_questions_input"] == 1 and summary["n_kept"] == 1 and summary["n_examples"] == 3
    assert summary["gold_sizes"] == {2: 1}
    examples = read_records(tmp_path / "out" / "train.parquet", TrainExample)
    assert [e.query_id for e in examples] == ["fresh@0", "fresh@1", "fresh@2"]
    assert {examples[0].passages[i - 1].title for i in examples[0].sets[0]} == {"Alpha", "Beta"}
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["refused_eval"] == 1 and meta["config"]["mode"] == "gold"
    # without exclude_eval the copied question would have trained
    cfg.exclude_eval, cfg.out = [], str(tmp_path / "open")
    assert run(cfg, progress=False)["n_kept"] == 2


def test_evaluation_questions_read_raw_rows(data_dir, monkeypatch):
    from setsel.datasets import load_dataset
    from setsel.synthesis.job import DatasetSpec, evaluation_questions

    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    path = data_dir / "2wikimqa_migres200" / "dev.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    without_pool = [normalise_question(r["question"]) for r in rows if not r.get("context")]
    loaded = {normalise_question(c.query.question) for c in load_dataset("2wiki", path)}
    assert len(rows) == 102 and len(without_pool) == 19 and len(loaded) == 83
    assert not set(without_pool) & loaded  # the loader skips them ...
    forbidden = evaluation_questions([DatasetSpec(name="2wiki")])
    assert set(without_pool) <= forbidden and loaded <= forbidden and len(forbidden) == 102  # ... but they are refused


def test_full_gold_config_over_the_real_data(tmp_path, data_dir, monkeypatch, capsys):
    from setsel.cli import main
    from setsel.training.data import read_examples

    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    out = tmp_path / "gold"
    assert main(["synthesize", "--config", "configs/synthesize_gold.yaml", "--set", f"out={out}"]) == 0
    assert f"training data: {out}/train.parquet" in capsys.readouterr().out
    meta = json.loads((out / "metadata.json").read_text())
    # 500 (2wiki-train) + 442 (AMOR, one row without context) + 99 + 98 questions in; the training
    # files were cut free of every evaluation question, so nothing is refused; 67 AMOR pools
    # hold no gold passage.
    assert meta["n_questions_input"] == 1139 and meta["refused_eval"] == 0 and meta["refused_eval_ids"] == []
    assert meta["dropped"] == {NO_GOLD: 67} and meta["n_kept"] == 1072 and meta["n_examples"] == 4 * 1072
    examples = read_examples(out / "train.parquet")
    assert len(examples) == 4288 and len({e.metadata["question_id"] for e in examples}) == 1072
    assert all(e.best_index == 0 and e.P[0] == 1.0 for e in examples)


# ----------------------------------------------------------------------------- titles target
def test_titles_target_hand_written():
    from setsel.synthesis.gold import titles_target

    assert titles_target(["Annie Morton", "Terry  Richardson"], [3, 7]) == (
        "Needed passages: Annie Morton | Terry Richardson\n### Final Selection: [3] [7]")
    assert titles_target([""], [1]) == "Needed passages: (untitled)\n### Final Selection: [1]"
    with pytest.raises(ValueError):
        gold_examples([_cands("q", 3, [1])], reasoning="essay")


def test_titles_target_names_the_shown_gold_passages(wiki5):
    """The reasoning names exactly the gold titles, in the order of their (permuted) ids, and its
    selection line is the gold set: one format, rendered and parsed by the same functions."""
    from setsel.prompts import parse_selection

    examples, _ = gold_examples(wiki5, permutations=2, seed=0, reasoning="titles")
    for e in examples:
        head, _, line = e.teacher_output.partition("\n")
        titles = head.removeprefix("Needed passages: ").split(" | ")
        assert titles == [" ".join(e.passages[i - 1].title.split()) for i in e.sets[0]]
        assert parse_selection(e.teacher_output, len(e.passages)).ids == e.sets[0]
    plain, _ = gold_examples(wiki5, permutations=2, seed=0)
    assert all(p.teacher_output is None for p in plain)
    assert [p.sets for p in plain] == [e.sets for e in examples]  # same targets, reasoning added


# ----------------------------------------------------------------------------- judgements target
def test_judgements_target_hand_written():
    from setsel.synthesis.gold import judgements_target

    assert judgements_target(4, [3, 1]) == (
        "Relevance:\n[1] yes\n[2] no\n[3] yes\n[4] no\n### Final Selection: [1] [3]")
    with pytest.raises(ValueError):
        judgements_target(3, [])  # a target needs a passage (no-gold pools are dropped before)


def test_judgements_target_says_yes_exactly_for_the_shown_gold_passages(wiki5):
    """One line per shown passage; "yes" exactly at the permuted gold ids; the selection line
    parses back to the gold set."""
    from setsel.prompts import parse_selection

    examples, _ = gold_examples(wiki5, permutations=2, seed=0, reasoning="judgements")
    for e in examples:
        lines = e.teacher_output.split("\n")
        assert lines[0] == "Relevance:" and len(lines) == len(e.passages) + 2
        yes = [i for i, line in enumerate(lines[1:-1], 1) if line == f"[{i}] yes"]
        assert all(line in (f"[{i}] yes", f"[{i}] no") for i, line in enumerate(lines[1:-1], 1))
        assert yes == sorted(e.sets[0])
        gold_ids = {c.query.id: set(c.query.gold_passage_ids) for c in wiki5}[e.metadata["question_id"]]
        assert {e.passages[i - 1].id for i in yes} == gold_ids & {p.id for p in e.passages}
        assert parse_selection(e.teacher_output, len(e.passages)).ids == sorted(e.sets[0])
