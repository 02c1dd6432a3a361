"""The expected-F1 cut (setsel/selection/rules.py), hand-computed."""

from __future__ import annotations

import math

import pytest

from setsel.selection.rules import expected_f1_size, select_expected_f1, tune_expected_f1


def test_expected_f1_size_hand_computed():
    # Σp = 1.8: k=1 → 2·.9/2.8 = .643, k=2 → 2·1.7/3.8 = .895, k=3 → 2·1.8/4.8 = .75
    assert expected_f1_size([0.9, 0.8, 0.1]) == 2
    assert expected_f1_size([0.9, 0.8, 0.1], cap=1) == 1 and expected_f1_size([0.9, 0.8, 0.1], floor=3) == 3
    # one sure passage among unlikely ones: Σp = 1.2, k=1 → 2·.99/2.2 = .9, k=2 → 2·1.06/3.2 = .66
    assert expected_f1_size([0.99, 0.07, 0.07, 0.07]) == 1
    # four likely hops (MuSiQue-like): keep all four
    assert expected_f1_size([0.9, 0.85, 0.8, 0.75, 0.05]) == 4
    assert expected_f1_size([]) == 0


def test_select_expected_f1_uses_calibrated_probabilities():
    scores = [0.0, 3.0, -4.0, 1.0]           # σ: .5, .953, .018, .731; Σ = 2.202
    assert select_expected_f1(scores) == [1, 3, 0]  # k=2 → 2·1.684/4.202 = .802, k=3 → 2·2.184/5.202 = .840
    scores = [3.0, 1.0, -0.5]                # T=1: σ .953, .731, .378; Σ = 2.062
    assert select_expected_f1(scores) == [0, 1]     # k=2 → .829 > k=3 → 2·2.062/5.062 = .815
    # T=4 flattens towards .5 (σ .679, .562, .469; Σ = 1.71): k=3 → .726 > k=2 → .669, keep all three
    assert select_expected_f1(scores, temperature=4.0) == [0, 1, 2]
    assert select_expected_f1(scores, temperature=0.5) == [0, 1]
    with pytest.raises(ValueError, match="temperature"):
        select_expected_f1(scores, temperature=0)


def test_tune_expected_f1_picks_the_best_temperature_and_floor():
    scores = [[3.0, -2.0, 2.5], [3.0, 2.0, -3.0], [4.0, -1.0, -1.0]]
    gold = [{0, 2}, {0, 1}, {0}]
    t, floor, f1 = tune_expected_f1(scores, gold, temperatures=(1.0, 3.0), floors=(1, 2))
    assert (t, floor) == (1.0, 1) and math.isclose(f1, 1.0)
    with pytest.raises(ValueError, match="one gold set per question"):
        tune_expected_f1(scores, gold[:2])


def test_fuse_lexical_adds_the_weighted_pool_z_scores_by_hand():
    from setsel.selection.rules import fuse_lexical, standardise

    # BM25 [0, 6, 3]: mean 3, population std sqrt((9 + 9 + 0) / 3) = sqrt(6)
    z = standardise([0.0, 6.0, 3.0])
    assert z == pytest.approx([-3 / 6 ** 0.5, 3 / 6 ** 0.5, 0.0])
    assert fuse_lexical([0.5, -1.0, 2.0], [0.0, 6.0, 3.0], 2.0) == pytest.approx(
        [0.5 - 6 / 6 ** 0.5, -1.0 + 6 / 6 ** 0.5, 2.0])
    assert fuse_lexical([0.5, -1.0], [4.0, 4.0], 3.0) == [0.5, -1.0]     # a pool BM25 cannot tell apart
    assert fuse_lexical([0.5, -1.0], [7.0, 1.0], 0.0) == [0.5, -1.0]     # w = 0: the scorer alone
    assert standardise([]) == []
    with pytest.raises(ValueError, match="one lexical score per passage"):
        fuse_lexical([1.0], [1.0, 2.0], 1.0)


def test_second_hop_scores_mix_the_two_reads_and_keep_the_known_passage_first_by_hand():
    from setsel.selection.rules import second_hop_scores

    first = [0.5, 2.0, -1.0, 0.0]            # the first read's best is passage 1
    second = [-3.0, 4.0, 1.0]                # passages 0, 2, 3 re-read with passage 1 known
    # m = 1: the second read alone; passage 1 must stay the best: raised to 4.0 + 1
    assert second_hop_scores(first, second, 1, 1.0) == [-3.0, 5.0, 4.0, 1.0]
    # m = 0.5: 0.5·first + 0.5·second = -1.25, 1.5, 0.5; passage 1 (2.0) already the best: unchanged
    assert second_hop_scores(first, second, 1, 0.5) == [-1.25, 2.0, 1.5, 0.5]
    assert second_hop_scores([1.0], [], 0, 1.0) == [1.0]                # a pool of one
    with pytest.raises(ValueError, match="every passage but the known one"):
        second_hop_scores(first, first, 1, 0.5)
