"""Records, GenerationParams validation and constraints (setsel/types.py)."""

import math
import re

import pytest

from setsel.types import (
    Candidates,
    GenerationParams,
    Passage,
    Query,
    RegexConstraint,
    SampledSet,
    SchemaError,
    Scored,
    Selection,
    SelectionConstraint,
)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"n": 0}, "n"), ({"n": 2.0}, "n"), ({"n": True}, "n"),
        ({"temperature": -0.1}, "temperature"), ({"temperature": float("nan")}, "temperature"),
        ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"), ({"seed": -1}, "seed"), ({"seed": "1"}, "seed"),
        ({"stop": ("",)}, "stop"), ({"constraint": "regex"}, "constraint"), ({"prefix": 3}, "prefix"),
        ({"n": 3, "temperature": 0.0}, "n > 1"),
    ],
)
def test_generation_params_rejects(kwargs, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        GenerationParams(**kwargs)


def test_generation_params_normalises():
    p = GenerationParams(n=2, temperature=0.7, seed=3, stop="###")
    assert p.stop == ("###",)
    assert p.replace(n=1).n == 1 and p.n == 2


def test_selection_constraint_regex():
    c = SelectionConstraint(num_candidates=12, max_passages=3)
    rx = c.to_regex()
    assert re.fullmatch(rx, "### Final Selection: [12] [1]")
    assert re.fullmatch(rx, "### Final Selection: [3] [2] [7]")
    assert not re.fullmatch(rx, "### Final Selection: [13]")
    assert not re.fullmatch(rx, "### Final Selection: [0]")
    assert not re.fullmatch(rx, "### Final Selection: [1] [2] [3] [4]")
    assert not re.fullmatch(rx, "### Final Selection:")
    assert SelectionConstraint(5).limit == 5 and SelectionConstraint(5, 9).limit == 5
    with pytest.raises(ValueError):
        SelectionConstraint(0)
    with pytest.raises(ValueError):
        SelectionConstraint(3, max_passages=0)


def test_regex_constraint_validates():
    with pytest.raises(ValueError, match="invalid regex"):
        RegexConstraint("([")


def test_round_trips():
    q = Query(id=1, question="q?", answers=["a"], gold_passage_ids=[2], evidence=["e"], qtype="bridge")
    c = Candidates(query=q, passages=[Passage(id=2, title="t", text="x", metadata={"k": 1})], scores=[0.5], retriever="bm25")
    assert q.id == "1" and q.gold_passage_ids == ["2"]
    assert Candidates.from_dict(c.to_dict()) == c
    s = Selection(query_id="1", method="setr", selected_ids=[2], parse_status="repaired", problems=["x"])
    assert Selection.from_dict(s.to_dict()) == s
    ss = SampledSet(query_id="1", sample=0, subqueries=["a"], raw_ids=["1"], refined_ids=["1"], H=1.0, dH=-0.5, P=0.7)
    assert SampledSet.from_dict(ss.to_dict()) == ss


def test_schema_errors():
    with pytest.raises(SchemaError, match="unknown field"):
        Query.from_dict({"id": "1", "question": "q", "bogus": 1})
    with pytest.raises(SchemaError, match="schema_version"):
        Query.from_dict({"id": "1", "question": "q", "schema_version": 99})
    with pytest.raises(SchemaError, match="missing required"):
        Query.from_dict({"id": "1"})
    with pytest.raises(SchemaError, match="duplicate passage ids"):
        Candidates(query=Query(id="q", question="?"), passages=[Passage("a", "", ""), Passage("a", "", "")])
    with pytest.raises(SchemaError, match="scores"):
        Candidates(query=Query(id="q", question="?"), passages=[Passage("a", "", "")], scores=[1.0, 2.0])
    with pytest.raises(SchemaError, match="parse_status"):
        Selection(query_id="q", method="m", selected_ids=[], parse_status="weird")


def test_scored_mean_nll():
    s = Scored(token_logprobs=[-1.0, -2.0, -0.5])
    assert s.sum_logprob == -3.5
    assert s.mean_nll == pytest.approx(3.5 / 3)
    assert math.isnan(Scored([]).mean_nll)
