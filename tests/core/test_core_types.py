"""Records, GenerationParams validation and output constraints (setsel/types.py)."""

import json
import math
import re

import pytest

from setsel.types import (
    SCHEMA_VERSION,
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

# --------------------------------------------------------------------------- GenerationParams


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"n": 0}, "n must"), ({"n": -1}, "n must"), ({"n": 2.0}, "n must"), ({"n": True}, "n must"),
        ({"n": "2"}, "n must"),
        ({"temperature": -0.1}, "temperature"), ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"), ({"temperature": "0.5"}, "temperature"),
        ({"temperature": None}, "temperature"), ({"temperature": True}, "temperature"),
        ({"top_p": 0}, "top_p"), ({"top_p": -0.5}, "top_p"), ({"top_p": 1.5}, "top_p"),
        ({"top_p": float("nan")}, "top_p"), ({"top_p": "1"}, "top_p"), ({"top_p": True}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"), ({"max_tokens": 1.5}, "max_tokens"), ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": None}, "max_tokens"),
        ({"seed": -1}, "seed"), ({"seed": "1"}, "seed"), ({"seed": 1.0}, "seed"), ({"seed": False}, "seed"),
        ({"stop": ("",)}, "stop"), ({"stop": ""}, "stop"), ({"stop": ["ok", 3]}, "stop"), ({"stop": 5}, "stop"),
        ({"stop": {"a": 1}}, "stop"),
        ({"constraint": "regex"}, "constraint"), ({"constraint": r"\d+"}, "constraint"),
        ({"prefix": 3}, "prefix"), ({"prefix": ["### Queries:"]}, "prefix"),
        ({"n": 3, "temperature": 0.0}, "n > 1"), ({"n": 2}, "n > 1"),
    ],
)
def test_generation_params_rejects_with_field_name(kwargs, field):
    with pytest.raises(ValueError, match=re.escape(field)) as info:
        GenerationParams(**kwargs)
    assert str(info.value).startswith("GenerationParams: ")


def test_generation_params_accepts_and_normalises():
    p = GenerationParams(n=2, temperature=0.7, top_p=1, seed=0, stop="###", max_tokens=1)
    assert p.stop == ("###",) and p.seed == 0 and p.top_p == 1
    assert GenerationParams(stop=["a", "b"]).stop == ("a", "b")  # list → tuple (hashable, frozen)
    assert GenerationParams(stop=None).stop == ()
    assert GenerationParams().stop == () and GenerationParams().temperature == 0.0
    c = SelectionConstraint(4)
    assert GenerationParams(constraint=c, prefix="### Final Selection:").constraint is c
    q = p.replace(n=1, temperature=0)
    assert (q.n, q.temperature, q.stop) == (1, 0, ("###",)) and p.n == 2  # copy; original unchanged
    with pytest.raises(ValueError, match="n > 1"):
        p.replace(temperature=0)  # replace re-validates
    with pytest.raises(Exception):
        p.n = 5  # frozen


# --------------------------------------------------------------------------- constraints


def test_selection_constraint_regex_admits_valid_lines():
    rx = SelectionConstraint(num_candidates=12, max_passages=3).to_regex()
    for line in ["### Final Selection: [1]", "### Final Selection: [12] [1]", "### Final Selection: [3] [2] [7]",
                 "### Final Selection: [10] [11] [12]", "### Final Selection: [2] [2]"]:
        assert re.fullmatch(rx, line), line


@pytest.mark.parametrize(
    "line",
    [
        "### Final Selection: [13]",  # out of range
        "### Final Selection: [0]",
        "### Final Selection: [01]",  # leading zero
        "### Final Selection: [-1]",
        "### Final Selection: [1] [2] [3] [4]",  # more than max_passages
        "### Final Selection:",  # no id
        "### Final Selection: ",
        "### Final Selection: [1][2]",  # missing space
        "### Final Selection: 1 2",  # bare numbers
        "### Final Selection: [1, 2]",
        "Final Selection: [1]",  # header incomplete
        "### final selection: [1]",
        "### Final Selection: [1] and more",  # trailing text
        "xx ### Final Selection: [1]",
    ],
)
def test_selection_constraint_regex_rejects(line):
    rx = SelectionConstraint(num_candidates=12, max_passages=3).to_regex()
    assert re.fullmatch(rx, line) is None


def test_selection_constraint_limit_header_and_validation():
    assert SelectionConstraint(5).limit == 5
    assert SelectionConstraint(5, 2).limit == 2
    assert SelectionConstraint(5, 9).limit == 5  # capped by the pool
    rx = SelectionConstraint(3, 9).to_regex()
    assert re.fullmatch(rx, "### Final Selection: [3] [1] [2]")
    assert not re.fullmatch(rx, "### Final Selection: [3] [1] [2] [1]")
    assert not re.fullmatch(rx, "### Final Selection: [4]")
    # Regex metacharacters in a custom header are escaped; '#' and ' ' are not.
    custom = SelectionConstraint(2, header="Chosen (ids)?:").to_regex()
    assert re.fullmatch(custom, "Chosen (ids)?: [2] [1]")
    assert not re.fullmatch(custom, "Chosen ids: [2]")
    assert "\\#" not in SelectionConstraint(2).to_regex()
    for bad in [dict(num_candidates=0), dict(num_candidates=-3), dict(num_candidates=2.0), dict(num_candidates=True),
                dict(num_candidates=3, max_passages=0), dict(num_candidates=3, max_passages=1.5),
                dict(num_candidates=3, max_passages=True)]:
        field = "max_passages" if "max_passages" in bad else "num_candidates"
        with pytest.raises(ValueError, match=field):
            SelectionConstraint(**bad)


def test_regex_constraint_validates():
    assert RegexConstraint(r"### Queries:\n.+").pattern == r"### Queries:\n.+"
    for bad in ["([", "a{2,1}", "*x", "(?P<1>a)"]:
        with pytest.raises(ValueError, match="invalid regex"):
            RegexConstraint(bad)


# --------------------------------------------------------------------------- records


def _records():
    p = Passage(id=7, title="T", text="x", doc_id="d1", metadata={"k": [1, 2], "src": "wiki"})
    q = Query(id=1, question="q?", answers=["a", "b"], gold_passage_ids=[7], evidence=["e"], qtype="bridge")
    c = Candidates(query=q, passages=[p, Passage(id="p2", title="U", text="y")], scores=[0.5, -1.0], retriever="bm25")
    s = Selection(query_id=1, method="setr", selected_ids=[7], ordered=True, raw_output="### Final Selection: [1]",
                  reasoning="r", parse_status="repaired", fallback_used="topk:5", prompt_tokens=10,
                  completion_tokens=3, latency_s=0.25, problems=["dropped id 11"])
    ss = SampledSet(query_id="1", sample=2, subqueries=["a?"], raw_ids=["1", "2"], refined_ids=["2"], H=1.25,
                    dH=-0.5, P=0.75, permutation=[1, 0])
    return {"passage": p, "query": q, "candidates": c, "selection": s, "sampled": ss}


@pytest.mark.parametrize("name", ["passage", "query", "candidates", "selection", "sampled"])
def test_round_trip_through_json(name):
    record = _records()[name]
    data = json.loads(json.dumps(record.to_dict()))  # what JSONL/Parquet store
    back = type(record).from_dict(data)
    assert back == record
    assert back.to_dict() == record.to_dict()


def test_ids_are_normalised_to_strings():
    r = _records()
    assert r["passage"].id == "7" and r["query"].id == "1" and r["query"].gold_passage_ids == ["7"]
    assert r["selection"].query_id == "1" and r["selection"].selected_ids == ["7"]
    assert r["candidates"].ids == ["7", "p2"]
    assert Passage(id="x", title=None, text=None).to_dict() == {"id": "x", "title": "", "text": "", "doc_id": None,
                                                                 "metadata": {}}


@pytest.mark.parametrize("cls", [Passage, Query, Selection, SampledSet, Candidates])
def test_unknown_field_and_wrong_version_rejected(cls):
    name = {Passage: "passage", Query: "query", Selection: "selection", SampledSet: "sampled",
            Candidates: "candidates"}[cls]
    data = _records()[name].to_dict()
    assert cls.from_dict({**data, "schema_version": SCHEMA_VERSION}) == _records()[name]
    with pytest.raises(SchemaError, match=r"unknown field.*'bogus'"):
        cls.from_dict({**data, "bogus": 1})
    for version in (0, SCHEMA_VERSION + 1, "1"):
        with pytest.raises(SchemaError, match="schema_version"):
            cls.from_dict({**data, "schema_version": version})
    with pytest.raises(SchemaError):
        cls.from_dict([data])


def test_schema_errors():
    with pytest.raises(SchemaError, match=r"missing required field\(s\) \['question'\]"):
        Query.from_dict({"id": "1"})
    with pytest.raises(SchemaError, match=r"missing required.*'H'"):
        SampledSet.from_dict({"query_id": "1", "sample": 0, "subqueries": [], "raw_ids": [], "refined_ids": [],
                              "dH": 0.0, "P": 0.0})
    with pytest.raises(SchemaError, match=r"duplicate passage ids \['a'\]"):
        Candidates(query=Query(id="q", question="?"), passages=[Passage("a", "", ""), Passage("b", "", ""),
                                                                 Passage("a", "", "")])
    with pytest.raises(SchemaError, match=r"duplicate passage ids"):  # ids compared after str()
        Candidates(query=Query(id="q", question="?"), passages=[Passage(1, "", ""), Passage("1", "", "")])
    with pytest.raises(SchemaError, match="2 scores for 1 passages"):
        Candidates(query=Query(id="q", question="?"), passages=[Passage("a", "", "")], scores=[1.0, 2.0])
    with pytest.raises(SchemaError, match="parse_status"):
        Selection(query_id="q", method="m", selected_ids=[], parse_status="weird")
    with pytest.raises(SchemaError, match="'query' and 'passages'"):
        Candidates.from_dict({"query": {"id": "q", "question": "?"}})
    with pytest.raises(SchemaError, match="'passages' must be a list"):
        Candidates.from_dict({"query": {"id": "q", "question": "?"}, "passages": "abc"})
    with pytest.raises(SchemaError, match=r"Passage: unknown field.*'score'"):  # nested records are checked too
        Candidates.from_dict({"query": {"id": "q", "question": "?"},
                              "passages": [{"id": "a", "title": "", "text": "", "score": 1}]})


def test_scored_mean_nll_hand_computed():
    s = Scored(token_logprobs=[-1.0, -2.0, -0.5])
    assert s.sum_logprob == -3.5
    assert s.mean_nll == pytest.approx(3.5 / 3)
    # Token probabilities 1/2 and 1/4: NLL = (ln 2 + ln 4) / 2 = 1.5 ln 2.
    two = Scored(token_logprobs=[math.log(0.5), math.log(0.25)], tokens=["a", "b"])
    assert two.mean_nll == pytest.approx(1.5 * math.log(2))
    assert Scored([0.0]).mean_nll == 0.0  # certain token
    assert math.isnan(Scored([]).mean_nll) and Scored([]).sum_logprob == 0.0
