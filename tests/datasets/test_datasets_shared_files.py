"""Every file in ../shared/data through its loader; counts as in SOURCES.md."""

import logging
import unicodedata
from collections import Counter

import pytest

from setsel.datasets import load_dataset
from setsel.datasets.common import title_key
from setsel.datasets.hotpotqa import count_rows_without_context
from setsel.datasets.openret import find_pair, gold_titles, load_openret


def _check_common(cands, pool_sizes=None):
    ids = [c.query.id for c in cands]
    assert len(ids) == len(set(ids)), "query ids must be unique"
    for c in cands:
        pool = c.ids
        assert len(pool) == len(set(pool))
        assert set(c.query.gold_passage_ids) <= set(pool), c.query.id
        assert c.query.question.strip() and c.query.answers and all(a.strip() for a in c.query.answers)
        assert all(p.text.strip() for p in c.passages), c.query.id
        if pool_sizes is not None:
            assert len(pool) in pool_sizes, (c.query.id, len(pool))


def test_hotpotqa_ircot_dev(data_dir):
    cands = load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500/dev.jsonl")
    assert len(cands) == 243
    _check_common(cands, pool_sizes=set(range(2, 11)))
    assert sum(len(c.passages) == 10 for c in cands) == 237
    assert all(len(c.query.gold_passage_ids) == 2 for c in cands)  # exactly 2 is_supporting per item
    first = cands[0]
    assert first.query.id == "5a7bbb64554299042af8f7cc" and first.query.answers == ["Terry Richardson"]
    assert first.passages[0].title == "Annie Morton" and first.passages[0].id == "5a7bbb64554299042af8f7cc#0"
    assert first.query.gold_passage_ids[0] == "5a7bbb64554299042af8f7cc#0"
    assert first.passages[1].title == "Madonna (book)"  # file order kept


def test_hotpotqa_original_dev_and_train(data_dir):
    dev = load_dataset("hotpotqa")  # the default file
    assert len(dev) == 97
    _check_common(dev, pool_sizes={10})
    first = dev[0]
    assert first.query.id == "5a7ce50f55429909bec76869" and first.query.answers == ["1974"]
    gold_titles_first = {p.title for p in first.passages if p.id in first.query.gold_passage_ids}
    assert gold_titles_first == {"Carsten Olsen", "S. P. L. Sørensen"}
    assert first.query.evidence[1].startswith("Søren Peder Lauritz Sørensen (9 January 1868")
    assert {c.query.qtype for c in dev} <= {"bridge", "comparison"}
    for c in dev:  # evidence sentences lie inside gold passages
        gold_text = " ".join(p.text for p in c.passages if p.id in c.query.gold_passage_ids)
        assert c.query.evidence and all(e in gold_text for e in c.query.evidence), c.query.id
    train = load_dataset("hotpotqa", data_dir / "hotpotqa_train100_hipporag/train.jsonl")
    assert len(train) == 99
    _check_common(train)
    assert all(len(c.query.gold_passage_ids) >= 2 for c in train)


def test_2wiki_dev_skips_rows_without_context(data_dir, caplog):
    path = data_dir / "2wikimqa_migres200/dev.jsonl"
    assert count_rows_without_context(path) == 19
    with caplog.at_level(logging.WARNING, logger="setsel.datasets"):
        cands = load_dataset("2wiki", path)
    assert len(cands) == 102 - 19 == 83
    assert "skipped 19 row(s)" in caplog.text
    _check_common(cands, pool_sizes={10})
    first = cands[0]
    assert first.query.id == "b088d3ca08e211ebbda4ac1f6bf848b6" and first.query.answers == ["Free Guy"]
    assert first.query.qtype == "bridge_comparison"
    assert {p.title for p in first.passages if p.id in first.query.gold_passage_ids} == {
        "Forbidden Ground", "Free Guy", "Pál Gábor", "Shawn Levy"}
    # 2Wiki sentences carry no leading space: joined with one
    assert first.passages[0].text.startswith("Pál Gábor (2 November 1932 – 21 October 1987) was a Hungarian film "
                                             "director and screenwriter. He directed 20 films")


@pytest.mark.parametrize("rel, n", [("musique_migres200/dev.jsonl", 95), ("musique_train100_kag/train.jsonl", 98)])
def test_musique_files(data_dir, rel, n):
    cands = load_dataset("musique", data_dir / rel)
    assert len(cands) == n
    _check_common(cands, pool_sizes={20})
    for c in cands:
        hops = int(c.query.qtype[0])  # "2hop", "3hop1", "4hop3": supporting paragraphs = hops
        assert len(c.query.gold_passage_ids) == hops, c.query.id
        assert 1 <= len(c.query.evidence) <= hops
    if rel.startswith("musique_migres200"):
        assert Counter(c.query.qtype[0] for c in cands)["2"] > 0
        first = cands[0]
        assert first.query.id == "2hop__403712_793210"
        assert first.query.evidence == ["Henry Baring", "Sir Francis Baring, 1st Baronet"]
        assert first.query.gold_passage_ids == ["2hop__403712_793210#6", "2hop__403712_793210#17"]


def test_bamboogle_dev_has_no_pools(data_dir):
    cands = load_dataset("bamboogle")
    assert len(cands) == 64
    assert all(c.passages == [] and c.query.gold_passage_ids == [] for c in cands)
    assert len({c.query.id for c in cands}) == 64
    first = cands[0]
    assert first.query.answers == ["1999"] and first.query.evidence == ["best buy", "1999"]


@pytest.mark.parametrize("split, n, k, complete", [
    ("hotpotqa", 242, 10, 105), ("musique", 245, 10, 14), ("2wiki", 240, 10, 45), ("bamboogle", 64, 21, 0)])
def test_openret_pairs(data_dir, split, n, k, complete):
    folder = data_dir / "openret_bge" / split
    cands = load_dataset("openret", folder)
    assert len(cands) == n
    assert all(len(c.passages) == k for c in cands)
    for c in cands:
        assert set(c.query.gold_passage_ids) <= set(c.ids) and c.retriever == "bge"
    retrieved, qa = find_pair(folder)
    titles = gold_titles(qa)
    # the title-match rule, recomputed independently of the loader: every pool passage whose
    # normalised title is a gold title is gold, and no other passage is
    for c in cands:
        expected = [p.id for p in c.passages if title_key(p.title) in titles[c.query.id]]
        assert c.query.gold_passage_ids == expected
    full = sum(bool(titles[c.query.id]) and titles[c.query.id] <= {title_key(p.title) for p in c.passages}
               for c in cands)
    assert full == complete
    # the same pair loaded from the retrieved file, with and without --qa
    assert [c.to_dict() for c in load_openret(retrieved)] == [c.to_dict() for c in cands]
    assert [c.to_dict() for c in load_dataset("openret", retrieved, qa_path=qa)] == [c.to_dict() for c in cands]


def test_openret_titles_and_text_split(data_dir):
    first = load_dataset("openret", data_dir / "openret_bge/hotpotqa")[0]
    assert first.query.answers == ["Fantagraphics Books"]
    assert first.passages[0].id == "721354" and first.passages[0].title == "Gary Groth"
    assert first.passages[0].text.startswith("Gary Groth (born September 18, 1954)")
    assert first.query.gold_passage_ids[:2] == ["721354", "17130003"]


def test_title_key_normalisation():
    nfd = unicodedata.normalize("NFD", "Jesús Barrero")
    assert nfd != "Jesús Barrero" and title_key(f'"{nfd}"') == title_key("Jesús Barrero")
    assert title_key('  "The   Comics\tJournal" ') == "the comics journal"
    assert title_key("ＡＢＣ") == "abc"  # NFKC folds full-width letters


def test_multihop_rag_dev_pools(data_dir):
    cands = load_dataset("multihop-rag")
    assert len(cands) == 260
    assert all(len(c.passages) == 10 for c in cands)
    by_type = Counter(c.query.qtype for c in cands)
    assert by_type == {"inference_query": 87, "comparison_query": 77, "temporal_query": 61, "null_query": 35}
    for c in cands:
        gold_texts = [p.text for p in c.passages if p.id in c.query.gold_passage_ids]
        assert sorted(gold_texts) == sorted(c.query.evidence)  # gold = its own facts
        others = [p.text for p in c.passages if p.id not in c.query.gold_passage_ids]
        assert not set(others) & set(c.query.evidence)
        assert (c.query.qtype == "null_query") == (not c.query.gold_passage_ids)
        assert 2 <= len(c.query.gold_passage_ids) <= 4 or c.query.qtype == "null_query"
    sample1 = next(c for c in cands if c.query.id == "1")
    assert sample1.query.answers == ["Yes"] and sample1.query.qtype == "temporal_query"
    assert sample1.query.evidence[0].startswith("Depending on which one you get, it might come with USB ports")
    # deterministic for a seed; another seed draws other distractors
    again = load_dataset("multihop-rag")
    assert [c.to_dict() for c in again] == [c.to_dict() for c in cands]
    from setsel.datasets.multihop_rag import load_multihop_rag

    other = load_multihop_rag(data_dir / "multihop_rag_sample500/dev.jsonl", seed=1)
    assert sum([p.text for p in a.passages] != [p.text for p in b.passages] for a, b in zip(other, cands)) > 200
    # gold is not always first: the pool is shuffled
    assert Counter(c.passages[0].id in c.query.gold_passage_ids for c in cands if c.query.gold_passage_ids)[False] > 50


def test_limit_and_default_paths(data_dir):
    assert len(load_dataset("hotpotqa-ircot", limit=7)) == 7
    assert [c.query.id for c in load_dataset("musique", limit=3)] == [c.query.id for c in load_dataset("musique")[:3]]
    # a relative path is looked up under the data directory
    assert len(load_dataset("openret", "openret_bge/2wiki")) == 240
