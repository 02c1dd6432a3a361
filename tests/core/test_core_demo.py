"""Integrity of the embedded demo set."""

from setsel.datasets.demo import demo_corpus, demo_queries, load_demo


def test_demo_integrity():
    corpus = demo_corpus()
    queries = demo_queries()
    ids = [p.id for p in corpus]
    assert len(ids) == len(set(ids)) >= 30
    assert len(queries) >= 10
    by_id = {p.id: p for p in corpus}
    for c in load_demo():
        q = c.query
        assert len(q.gold_passage_ids) >= 2
        assert set(q.gold_passage_ids) <= set(c.ids)
        assert len(c.passages) == 10
        gold_text = " ".join(by_id[g].title + " " + by_id[g].text for g in q.gold_passage_ids).lower()
        if q.answers[0].lower() not in ("yes", "no"):
            assert any(a.lower() in gold_text for a in q.answers), q.id


def test_shuffle_is_deterministic_and_keeps_gold():
    a, b = load_demo(shuffle_seed=3), load_demo(shuffle_seed=3)
    plain = load_demo()
    assert [c.ids for c in a] == [c.ids for c in b]
    assert any(x.ids != y.ids for x, y in zip(a, plain))
    for x, y in zip(a, plain):
        assert sorted(x.ids) == sorted(y.ids) and x.query.gold_passage_ids == y.query.gold_passage_ids
