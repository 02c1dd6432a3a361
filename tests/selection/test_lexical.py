"""``lexical``: BM25 over each question's own pool (LLM-free), top k."""

from __future__ import annotations

import json

import pytest

from setsel.retrieval.bm25 import BM25Index, EmptyCorpusError
from setsel.selection import SELECTOR_MODULES, SelectorError, get_selector, list_selectors
from setsel.selection.lexical import feedback_scores, lexical_order, lexical_scores
from setsel.types import Candidates, Passage, Query, Selection

QUESTION = "Which river flows through Zaragoza?"


def _pool(qid: str = "q1") -> Candidates:
    # Query terms after stop words and stemming: river, flow, zaragoza.
    #   p1 shares none; p2 all three (and the pool-rare "zaragoza"); p3 river + flow(ing);
    #   p4 only river(s). So the ranking is p2 > p3 > p4 > p1 by term overlap alone.
    return Candidates(query=Query(id=qid, question=QUESTION, gold_passage_ids=["p2"]),
                      passages=[Passage(id="p1", title="Madrid", text="Madrid is the capital of Spain."),
                                Passage(id="p4x", title="Spain", text="Spain has many rivers and mountains."),
                                Passage(id="p2", title="Ebro", text="The Ebro river flows through Zaragoza."),
                                Passage(id="p3", title="Rivers", text="A river is a natural flowing watercourse.")])


def test_lexical_is_registered_and_lazy():
    assert SELECTOR_MODULES["lexical"] == "setsel.selection.lexical"
    assert "lexical" in list_selectors()
    sel = get_selector("lexical", k=3)
    assert sel.name == "lexical" and not sel.uses_llm and sel.options.k == 3
    assert get_selector("lexical").options.k == 5  # the common default


def test_lexical_hand_checkable_ranking():
    c = _pool()
    scores = dict(zip(c.ids, lexical_scores(QUESTION, c.passages)))
    assert scores["p1"] == 0.0 and scores["p2"] > scores["p3"] > scores["p4x"] > 0
    [s] = get_selector("lexical", k=4).select([c])
    assert s == Selection(query_id="q1", method="lexical", selected_ids=["p2", "p3", "p4x", "p1"], ordered=True,
                          parse_status="ok", latency_s=s.latency_s)
    assert get_selector("lexical", k=1).select([c])[0].selected_ids == ["p2"]
    # The title counts: a passage naming Zaragoza only in its title still matches that term.
    titled = Candidates(query=c.query, passages=[Passage(id="a", title="Cats", text="The cat sat."),
                                                 Passage(id="b", title="Zaragoza", text="A city in Aragon.")])
    assert get_selector("lexical", k=1).select([titled])[0].selected_ids == ["b"]


def test_lexical_rare_term_outweighs_common_term():
    # "Zaragoza" occurs in one passage of the pool, "river" in three: pool IDF favours the rare term,
    # so the passage with only the rare term beats one with the common term twice.
    q = Query(id="r", question="river Zaragoza")
    pool = [Passage(id="common", title="", text="river river bank"),
            Passage(id="rare", title="", text="Zaragoza city hall"),
            Passage(id="c2", title="", text="river delta mouth"),
            Passage(id="c3", title="", text="river source spring")]
    assert get_selector("lexical", k=1).select([Candidates(query=q, passages=pool)])[0].selected_ids == ["rare"]


def test_lexical_ties_keep_pool_order():
    q = Query(id="t", question="Who founded Zaragoza?")
    same = "Zaragoza was founded by the Romans."
    pool = [Passage(id="z1", title="", text="Nothing relevant here."),
            Passage(id="b", title="", text=same), Passage(id="a", title="", text=same),
            Passage(id="z2", title="", text="Still nothing relevant.")]
    [s] = get_selector("lexical", k=4).select([Candidates(query=q, passages=pool)])
    assert s.selected_ids == ["b", "a", "z1", "z2"]  # the tied pair in pool order, then the zero-score tail
    assert lexical_order(q.question, list(reversed(pool)), k=2) == [1, 2]  # reversed pool: "a" (index 1) first
    # No query term anywhere (or a question of stop words only): exactly topk's choice.
    nothing = Candidates(query=Query(id="n", question="what is the of these"), passages=pool)
    assert get_selector("lexical", k=2).select([nothing])[0].selected_ids == ["z1", "b"]


def test_lexical_k_and_max_passages_caps():
    c = _pool()
    assert get_selector("lexical", k=3, max_passages=2).select([c])[0].selected_ids == ["p2", "p3"]
    assert get_selector("lexical", k=2, max_passages=5).select([c])[0].selected_ids == ["p2", "p3"]
    assert get_selector("lexical", k=10).select([c])[0].selected_ids == ["p2", "p3", "p4x", "p1"]  # pool of 4
    out = get_selector("lexical", k=2).select([_pool("a"), _pool("b")])
    assert [s.query_id for s in out] == ["a", "b"] and [s.selected_ids for s in out] == [["p2", "p3"]] * 2


def test_lexical_empty_and_degenerate_pools():
    empty = Candidates(query=Query(id="e", question=QUESTION), passages=[])
    [s] = get_selector("lexical", k=3).select([empty])
    assert s.selected_ids == [] and s.parse_status == "ok"
    assert get_selector("lexical", k=3).select([]) == []
    # A pool without one indexable term (bm25s alone fails on it): scores 0, pool order.
    blank = Candidates(query=Query(id="b", question=QUESTION),
                       passages=[Passage(id="x", title="", text="a"), Passage(id="y", title="", text="")])
    with pytest.raises(EmptyCorpusError, match="no indexable term in 2 text"):
        BM25Index.build(["a", ""])
    assert lexical_scores(QUESTION, blank.passages) == [0.0, 0.0]
    assert get_selector("lexical", k=1).select([blank])[0].selected_ids == ["x"]
    one = Candidates(query=Query(id="o", question=QUESTION), passages=[Passage(id="only", title="Ebro", text="river")])
    assert get_selector("lexical", k=2).select([one])[0].selected_ids == ["only"]


def test_lexical_options_validation():
    plain = get_selector("lexical", k1=1.2, b=0.5, stemmer=None, stopwords=None)
    assert plain.select([_pool()])[0].selected_ids[0] == "p2"
    for bad in ({"k1": 0}, {"b": 1.5}, {"k1": "x"}, {"b": True}, {"stemmer": 3}):
        with pytest.raises(SelectorError):
            get_selector("lexical", **bad)
    with pytest.raises(SelectorError, match=r"does not take option\(s\) \['model'\]"):
        get_selector("lexical", model="hf:x")


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def hotpot20(data_dir):
    from setsel.datasets import load_dataset

    return load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500" / "dev.jsonl", limit=20)


def _mean_f1(selections, cands):
    from setsel.evaluation.metrics import mean, set_prf

    return mean(set_prf(s.selected_ids, c.query.gold_passage_ids)[2] for s, c in zip(selections, cands))


def test_lexical_beats_file_order_on_hotpotqa(hotpot20):
    # Measured on these 20 questions: lexical top-2 set F1 0.65, topk:2 (file order) 0.10.
    # (Full dev, 243 questions: lexical 0.673 vs topk 0.212.)
    lexical = _mean_f1(get_selector("lexical", k=2).select(hotpot20), hotpot20)
    topk = _mean_f1(get_selector("topk", k=2).select(hotpot20), hotpot20)
    assert lexical >= 0.6 and topk <= 0.15 and lexical - topk >= 0.45, (lexical, topk)
    # Order-free up to ties: shuffling the pools changes nothing here (nor on any full dev file measured).
    shuffled = get_selector("lexical", k=2, shuffle_seed=0).select(hotpot20)
    assert [sorted(s.selected_ids) for s in shuffled] == \
        [sorted(s.selected_ids) for s in get_selector("lexical", k=2).select(hotpot20)]


def test_lexical_through_setsel_eval(tmp_path, data_dir, monkeypatch, capsys):
    import pandas as pd

    from setsel.cli import main

    monkeypatch.setenv("SETSEL_DATA_DIR", str(data_dir))
    runs = {}
    for name, extra in (("plain", []), ("shuffled", ["--shuffle-candidates", "0"])):
        out = tmp_path / name
        rc = main(["eval", "--dataset", "hotpotqa-ircot", "--method", "lexical", "--k", "2", "--limit", "20",
                   "--no-progress", "--out", str(out), *extra])
        assert rc == 0, capsys.readouterr().err
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["method"] == "lexical" and metrics["n_queries"] == 20 and metrics["avg_selected"] == 2.0
        assert metrics["set_f1"] == pytest.approx(0.65)
        runs[name] = pd.read_parquet(out / "per_query.parquet")
    assert "lexical on hotpotqa-ircot: 20 questions" in capsys.readouterr().out
    plain, shuffled = runs["plain"], runs["shuffled"]
    assert [list(p) for p in plain["pool_ids"]] != [list(p) for p in shuffled["pool_ids"]]  # the pools were permuted
    assert [sorted(s) for s in plain["selected_ids"]] == [sorted(s) for s in shuffled["selected_ids"]]


def _bridge_pool():
    return [Passage(id="hop1", title="Journal of Psychotherapy Integration",
                    text="The journal is published by the American Psychological Association since 1991."),
            Passage(id="other", title="Journal of Small Business Management",
                    text="A quarterly journal published by Wiley-Blackwell since 1963."),
            Passage(id="hop2", title="American Psychological Association",
                    text="The American Psychological Association's first president was G. Stanley Hall."),
            Passage(id="none", title="Person-centered therapy", text="A form of psychotherapy by Carl Rogers.")]


def test_feedback_scores_lift_the_entity_the_top_passage_names():
    pool = _bridge_pool()
    scores = [3.0, 1.0, 0.5, 0.0]                       # hop 2 ranked below a look-alike journal
    out = feedback_scores(scores, pool, 2.0)
    assert out[0] == 3.0                                 # the top passage keeps its score
    others = [1, 2, 3]
    # by hand: z = standardise(BM25(top text, the three others)); each gains 2·z
    raw = lexical_scores(pool[0].text, [pool[i] for i in others])
    mean = sum(raw) / 3
    std = (sum((r - mean) ** 2 for r in raw) / 3) ** 0.5
    assert [out[i] for i in others] == pytest.approx([scores[i] + 2.0 * (r - mean) / std for i, r in zip(others, raw)])
    assert raw[1] == max(raw) and out[2] > out[1]        # "American Psychological Association" now outranks
    assert sum(out[i] - scores[i] for i in others) == pytest.approx(0.0, abs=1e-9)   # z sums to 0


def test_feedback_scores_degenerate_inputs():
    pool = _bridge_pool()
    assert feedback_scores([3.0, 1.0, 0.5, 0.0], pool, 0.0) == [3.0, 1.0, 0.5, 0.0]       # weight 0: unchanged
    assert feedback_scores([1.0], pool[:1], 2.0) == [1.0]                                # nothing else to lift
    assert feedback_scores([], [], 2.0) == []
    empty = [Passage(id="a", title="", text="Some words here."), Passage(id="b", title="", text=""),
             Passage(id="c", title="", text="")]
    assert feedback_scores([1.0, 0.0, 0.0], empty, 2.0) == [1.0, 0.0, 0.0]               # nothing matches: z = 0
    # ties: the first best passage is the query; max_words cuts its text ("The": a stop word, nothing matches)
    assert feedback_scores([3.0, 0.0, 0.0, 3.0], pool, 1.0, max_words=1) == [3.0, 0.0, 0.0, 3.0]
    # two words ("The journal"): only the other journal matches, and passage 3 (tied at 3.0) is not the query
    two = feedback_scores([3.0, 0.0, 0.0, 3.0], pool, 1.0, max_words=2)
    assert two[0] == 3.0 and two[1] == pytest.approx(2 ** 0.5) and two[2] == pytest.approx(two[3] - 3.0) == pytest.approx(-(0.5 ** 0.5))
    with pytest.raises(ValueError, match="one score per passage"):
        feedback_scores([1.0, 2.0], pool, 1.0)
