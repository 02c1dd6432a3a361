"""Set post-processing for synthesis: filtering, dedupe, choice of m sets, permutation."""

import random

import pytest

from setsel.synthesis.sets import (
    choose_sets,
    dedupe_sets,
    jaccard_distance,
    keep_question,
    make_permutation,
    permute_example,
    permute_ids,
    unpermute_ids,
)


def test_keep_question():
    assert keep_question([-0.6, -0.9]) == (False, "all sets negative")
    ok, why = keep_question([0.70, 0.72], min_spread=0.1)
    assert not ok and "spread" in why
    assert keep_question([0.9, -0.6]) == (True, "")
    assert keep_question([0.8]) == (True, "")
    assert keep_question([])[0] is False


def test_dedupe_keeps_best_p_and_first_order():
    sets, p = dedupe_sets([[2, 1], [3], [1, 2, 2], [4, 3]], [0.6, -0.7, 0.9, 0.55])
    assert sets == [[1, 2], [3], [3, 4]]
    assert p == [0.9, -0.7, 0.55]
    with pytest.raises(ValueError):
        dedupe_sets([[1]], [])


def test_jaccard():
    assert jaccard_distance([1, 2], [2, 3]) == pytest.approx(1 - 1 / 3)
    assert jaccard_distance([], []) == 0.0
    assert jaccard_distance([1], [2]) == 1.0


def test_choose_best_then_most_distinct():
    sets = [[1, 2], [1, 2, 3], [4, 5], [1, 3]]
    P = [0.9, 0.8, 0.6, 0.7]
    # best = 0 ([1,2]); distances to it: [1,2,3] → 1/3, [4,5] → 1, [1,3] → 2/3
    assert choose_sets(sets, P, m=2) == [0, 2]
    # next: min distance to {0,2}: set1 → min(1/3, 1)=1/3; set3 → min(2/3, 1)=2/3
    assert choose_sets(sets, P, m=3) == [0, 2, 3]
    assert choose_sets(sets, P, m=10) == [0, 2, 3, 1]
    assert choose_sets([], [], m=3) == []


def test_permutation_round_trip():
    rng = random.Random(0)
    for trial in range(50):
        n = rng.randint(1, 25)
        perm = make_permutation(n, seed=trial)
        assert sorted(perm) == list(range(n))
        ids = rng.sample(range(1, n + 1), rng.randint(1, n))
        assert unpermute_ids(permute_ids(ids, perm), perm) == ids


def test_permute_example_moves_passages_with_ids():
    passages = ["A", "B", "C", "D"]
    perm = [2, 0, 3, 1]  # new order: C, A, D, B
    new_passages, new_sets = permute_example(passages, [[1, 3], [4]], perm)
    assert new_passages == ["C", "A", "D", "B"]
    # old [1,3] = {A, C} → new positions A=2, C=1 → [1, 2]; old [4] = D → new 3
    assert new_sets == [[1, 2], [3]]
    for old_set, new_set in zip([[1, 3], [4]], new_sets):
        assert sorted(passages[i - 1] for i in old_set) == sorted(new_passages[i - 1] for i in new_set)
    with pytest.raises(ValueError):
        permute_example(passages, [[1]], [0, 1, 2])
