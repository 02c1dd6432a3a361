"""The training-only dataset names (issue 18): counts and gold labels as documented in SOURCES.md."""

from __future__ import annotations

from collections import Counter

import pytest

from setsel.datasets import DATASETS, dataset_path, load_dataset
from setsel.synthesis.gold import normalise_question

TRAIN_SETS = ("2wiki-train", "hotpotqa-amor-train", "hotpotqa-train", "musique-train")


@pytest.fixture(autouse=True)
def _data(data_dir, monkeypatch):
    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))


def _gold_in_pool(cands) -> Counter:
    return Counter(sum(p.id in set(c.query.gold_passage_ids) for p in c.passages) for c in cands)


def _check(cands):
    ids = [c.query.id for c in cands]
    assert len(ids) == len(set(ids))
    for c in cands:
        assert c.query.question.strip() and c.query.answers and all(a.strip() for a in c.query.answers)
        assert len(c.ids) == len(set(c.ids)) and all(p.text.strip() for p in c.passages)
        assert set(c.query.gold_passage_ids) <= set(c.ids), c.query.id  # gold ids always name pool passages


def test_train_names_are_registered_with_their_files(data_dir):
    for name in TRAIN_SETS:
        assert name in DATASETS and dataset_path(name).is_file()
    assert dataset_path("2wiki-train") == data_dir / "2wikimqa_train500_migres" / "train.jsonl"
    assert dataset_path("musique-train") == data_dir / "musique_train100_kag" / "train.jsonl"


def test_2wiki_train():
    cands = load_dataset("2wiki-train")
    assert len(cands) == 500
    _check(cands)
    assert all(len(c.passages) == 10 for c in cands)
    # SOURCES.md: 2 gold paragraphs for 408 questions, 4 for 92, always all present. The loader
    # matches titles case-insensitively (title_key), so in two pools a second article whose title
    # differs from a gold one only in case is marked gold too ("Douglas MacLean" next to gold
    # "Douglas Maclean"; "Brass buttons" next to "Brass Buttons"): 408 → 407 + one of 3, 92 → 91 + one of 5.
    assert _gold_in_pool(cands) == Counter({2: 407, 4: 91, 3: 1, 5: 1})
    assert Counter(c.query.qtype for c in cands) == Counter(compositional=227, comparison=162,
                                                            bridge_comparison=92, inference=19)


def test_hotpotqa_amor_train():
    cands = load_dataset("hotpotqa-amor-train")
    # 443 rows; the one without context is skipped; one pool has 4 paragraphs
    assert len(cands) == 442
    _check(cands)
    assert Counter(len(c.passages) for c in cands) == Counter({10: 441, 4: 1})
    # retrieved pools: both gold titles present for 130, one for 245, none for 67 (+ the skipped row = 68)
    assert _gold_in_pool(cands) == Counter({2: 130, 1: 245, 0: 67})


def test_hotpotqa_train():
    cands = load_dataset("hotpotqa-train")
    assert len(cands) == 99
    _check(cands)
    assert all(len(c.query.gold_passage_ids) == 2 for c in cands) and _gold_in_pool(cands) == Counter({2: 99})


def test_musique_train():
    cands = load_dataset("musique-train")
    assert len(cands) == 98
    _check(cands)
    assert all(len(c.passages) == 20 for c in cands)
    assert _gold_in_pool(cands) == Counter({2: 66, 3: 27, 4: 5})


def test_train_sets_share_no_question():
    seen: dict[str, str] = {}
    for name in TRAIN_SETS:
        for c in load_dataset(name):
            key = normalise_question(c.query.question)
            assert key not in seen, (name, seen.get(key), c.query.id)
            seen[key] = name
    assert len(seen) == 500 + 442 + 99 + 98
