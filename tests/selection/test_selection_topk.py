"""The selector registry, the common options and the topk baseline."""

import pytest

from setsel.selection import (SELECTOR_MODULES, Selector, SelectorError, SelectorOptions, get_selector,
                              list_selectors, register_selector, shuffle_candidates)
from setsel.types import Candidates, Passage, Query, Selection


def _cands(qid="q1", n=6, gold=("p2", "p5")):
    return Candidates(query=Query(id=qid, question="?", gold_passage_ids=list(gold)),
                      passages=[Passage(id=f"p{i}", title=f"T{i}", text=f"text {i}") for i in range(1, n + 1)],
                      scores=[float(n - i) for i in range(n)])


def test_topk_selects_first_k_in_pool_order():
    sel = get_selector("topk", k=3)
    [s] = sel.select([_cands()])
    assert s == Selection(query_id="q1", method="topk", selected_ids=["p1", "p2", "p3"], ordered=True,
                          parse_status="ok", latency_s=s.latency_s)
    assert sel.select([]) == []
    [short] = get_selector("topk", k=10).select([_cands(n=4)])
    assert short.selected_ids == ["p1", "p2", "p3", "p4"]
    [empty] = get_selector("topk", k=3).select([Candidates(query=Query(id="e", question="?"), passages=[])])
    assert empty.selected_ids == []


def test_topk_respects_max_passages_and_batches():
    sel = get_selector("topk", k=4, max_passages=2)
    out = sel.select([_cands("a"), _cands("b", n=1)])
    assert [s.query_id for s in out] == ["a", "b"]
    assert [s.selected_ids for s in out] == [["p1", "p2"], ["p1"]]


def test_options_defaults_and_validation():
    opts = get_selector("topk", k=7).options
    assert (opts.k, opts.max_passages, opts.fallback, opts.shuffle_seed) == (7, None, "topk:7", None)
    assert get_selector("topk", fallback="empty").options.fallback_ids(_cands()) == []
    assert get_selector("topk", fallback="topk:2").options.fallback_ids(_cands()) == ["p1", "p2"]
    for bad in ({"k": 0}, {"k": True}, {"max_passages": 0}, {"fallback": "topk:0"}, {"fallback": "random"},
                {"shuffle_seed": "x"}):
        with pytest.raises(SelectorError):
            get_selector("topk", **bad)


def test_unknown_options_and_methods_are_clear_errors():
    with pytest.raises(SelectorError, match=r"method 'topk' does not take option\(s\) \['model', 'variant'\]; "
                                            r"valid options: \['k', 'max_passages'"):
        get_selector("topk", model="hf:x", variant="iri")
    with pytest.raises(SelectorError, match="unknown selection method 'bogus'; available: .*topk"):
        get_selector("bogus")
    assert "topk" in list_selectors()


def test_listed_methods_load_lazily_or_say_they_are_missing():
    from setsel.selection import get_selector_class

    assert SELECTOR_MODULES["topk"] == "setsel.selection.topk"
    available = set(list_selectors())
    for name in ("setr", "optiset", "listwise", "cross-encoder", "mmr"):
        key = name.replace("-", "_")
        if key in available:  # its module exists: the class registers under its name
            cls = get_selector_class(name)
            assert issubclass(cls, Selector) and cls.name == key
        else:
            with pytest.raises(SelectorError, match=f"'{name}' is not available in this installation"):
                get_selector(name)


def test_shuffle_seed_is_deterministic_and_keeps_labels():
    c = _cands(n=10)
    a = get_selector("topk", k=3, shuffle_seed=4).select([c])[0].selected_ids
    b = get_selector("topk", k=3, shuffle_seed=4).select([c])[0].selected_ids
    assert a == b and len(a) == 3 and set(a) <= set(c.ids)
    assert any(get_selector("topk", k=3, shuffle_seed=s).select([c])[0].selected_ids != ["p1", "p2", "p3"]
               for s in range(3))
    shuffled = shuffle_candidates(c, 4)
    assert sorted(shuffled.ids) == sorted(c.ids) and shuffled.query == c.query
    assert shuffled.ids[:3] == a
    # scores move with their passages
    assert dict(zip(shuffled.ids, shuffled.scores)) == dict(zip(c.ids, c.scores))
    assert shuffle_candidates(c, 4).ids == shuffled.ids


def test_base_class_checks_what_a_method_returns():
    @register_selector("test_everything")
    class Everything(Selector):
        def _select(self, batch):
            return [Selection(query_id=c.query.id, method=self.name, selected_ids=c.ids) for c in batch]

    @register_selector("test_stray")
    class Stray(Selector):
        def _select(self, batch):
            return [Selection(query_id=c.query.id, method=self.name, selected_ids=["nope"]) for c in batch]

    [s] = get_selector("test_everything", max_passages=2).select([_cands()])
    assert s.selected_ids == ["p1", "p2"] and s.problems == ["truncated to max_passages=2"]
    with pytest.raises(SelectorError, match=r"ids not in the pool: \['nope'\]"):
        get_selector("test_stray").select([_cands()])
    with pytest.raises(SelectorError, match="takes a list of Candidates"):
        get_selector("test_everything").select(_cands())
    with pytest.raises(SelectorError, match="already registered"):
        @register_selector("topk")
        class Other(Selector):
            def _select(self, batch):
                return []
    assert issubclass(Everything.options_cls, SelectorOptions)
