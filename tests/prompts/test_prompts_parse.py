"""Golden table and property tests of the selection / ranking / queries parsers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setsel.prompts import parse_queries, parse_ranking, parse_selection

N = 10
GARBAGE = ("lorem [ipsum] 12 ### ] [ \n" * 4000)[:100_000]

# (model output, expected ids, expected status)
GOLDEN = [
    ("### Final Selection: [2] [1]", [2, 1], "ok"),
    ("### Final Selection: [3]", [3], "ok"),
    ("### Final Selection: [1] [2] [3] [4] [5]", [1, 2, 3, 4, 5], "ok"),
    ("### Final Selection: [2] [1].", [2, 1], "ok"),
    ("### Final Selection: [2], [1]", [2, 1], "ok"),
    ("### Final Selection:[2][1]", [2, 1], "ok"),
    ("### final selection: [4] [6]", [4, 6], "ok"),
    ("## Final Selection: [4]", [4], "ok"),
    ("Final Selection: [5] [7]", [5, 7], "ok"),
    ("**Final Selection:** [3] [8]", [3, 8], "ok"),
    ("### **Final Selection**: [1] [9]", [1, 9], "ok"),
    ("### Final Selection [6] [2]", [6, 2], "ok"),
    ("### Final Selection： [6] [2]", [6, 2], "ok"),  # full-width colon
    ("### Final Selection: ［３］ ［１］", [3, 1], "ok"),  # full-width brackets and digits
    ("### Final Selection: [٣] [٢]", [3, 2], "ok"),  # Arabic-Indic digits
    ("### Final Selection: [2] and [5]", [2, 5], "ok"),
    ("### Final Selection: [10]", [10], "ok"),
    ("Step 1: needs [4] and [7].\nStep 2: [3] has it.\n### Final Selection: [2] [1]", [2, 1], "ok"),
    ("Reasoning mentions 1990 and 45 people.\n### Final Selection: [5]", [5], "ok"),
    ("### Final Selection:\n[2] [3]", [2, 3], "ok"),
    ("### Final Selection: [2] [1]\nThese cover both facts from 1999 and [7].", [2, 1], "ok"),
    ("### Final Selection: [2] [1] because passage 4 is redundant", [2, 1], "ok"),
    ("<think>I pick ### Final Selection: [9]</think>\n### Final Selection: [1] [3]", [1, 3], "ok"),
    ("<think>### Final Selection: [9] [8]</think>The answer.\n### Final Selection: [4]", [4], "ok"),
    # repaired
    ("### Final Selection: [1, 2]", [1, 2], "repaired"),
    ("### Final Selection: [1]-[3]", [1, 2, 3], "repaired"),
    ("### Final Selection: [2] [2] [3]", [2, 3], "repaired"),
    ("### Final Selection: [0] [3]", [3], "repaired"),
    ("### Final Selection: [3] [11] [42]", [3], "repaired"),
    ("### Final Selection: 2 5", [2, 5], "repaired"),
    ("### Final Selection: [1]\n### Final Selection: [4] [5]", [4, 5], "repaired"),
    ("First try ### Final Selection: [7]. Actually:\n### Final Selection: [8]", [8], "repaired"),
    ("The passages needed are:\n[2] [6]", [2, 6], "repaired"),
    ("Some reasoning with [3] inline.\n[4], [5]", [4, 5], "repaired"),
    ("### Final Selection: [1] [1] [1]", [1], "repaired"),
    ("### Final Selection: 1-3", [1, 2, 3], "repaired"),
    # failed
    ("", [], "failed"),
    ("   \n\t", [], "failed"),
    ("I think passage [3] and [4] are relevant because they mention 1990.", [], "failed"),
    ("### Final Selection:", [], "failed"),
    ("### Final Selection: none of them", [], "failed"),
    ("### Final Selection: [0] [11]", [], "failed"),
    ("Step 1. List requirements: birth year (1970), spouse.\nStep 2. ...", [], "failed"),
    (GARBAGE, [], "failed"),
    ("<think>### Final Selection: [1]</think>", [], "failed"),
]


@pytest.mark.parametrize("text,ids,status", GOLDEN)
def test_golden(text, ids, status):
    parsed = parse_selection(text, N)
    assert parsed.ids == ids, parsed
    assert parsed.status == status, parsed


def test_golden_table_size():
    assert len(GOLDEN) >= 40


def test_none_and_empty_pool():
    assert parse_selection(None, 5).status == "failed"
    assert parse_selection("### Final Selection: [1]", 0).status == "failed"


def test_problems_are_recorded():
    p = parse_selection("### Final Selection: [2] [2] [11]", N)
    assert p.ids == [2] and p.status == "repaired"
    assert any("repeated id 2" in x for x in p.problems)
    assert any("out-of-range id 11" in x for x in p.problems)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=1, max_value=30))
def test_property_random_text(text, n):
    p = parse_selection(text, n)
    _check(p, n)


ids_lists = st.lists(st.integers(min_value=-3, max_value=40), max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80), ids_lists, st.text(max_size=80), st.integers(min_value=1, max_value=30),
       st.sampled_from(["### Final Selection: ", "**Final Selection:** ", "Final selection ", ""]))
def test_property_structured(prefix, ids, suffix, n, header):
    text = prefix + "\n" + header + " ".join(f"[{i}]" for i in ids) + "\n" + suffix
    p = parse_selection(text, n)
    _check(p, n)


def _check(p, n):
    assert p.status in ("ok", "repaired", "failed")
    assert len(set(p.ids)) == len(p.ids)
    assert all(1 <= i <= n for i in p.ids)
    assert (p.status == "failed") == (not p.ids)
    assert (p.status == "ok") == (bool(p.ids) and not p.problems)


def test_ranking():
    assert parse_ranking("[2] > [1] > [3]", 3).ids == [2, 1, 3]
    r = parse_ranking("[3] > [1]", 4)
    assert r.ids == [3, 1, 2, 4] and r.status == "repaired"
    r = parse_ranking("[3] > [3] > [9] > [1] > [2]", 3)
    assert r.ids == [3, 1, 2] and r.status == "repaired"
    r = parse_ranking("no idea", 3)
    assert r.status == "failed" and r.ids == [1, 2, 3]


def test_queries():
    text = "### Queries: Who founded Acme?\nWhen was Acme founded?\n\n- Who founded Acme?\n2) Where is Acme based?"
    assert parse_queries(text) == ["Who founded Acme?", "When was Acme founded?", "Where is Acme based?"]
    assert parse_queries("<Query 1> stuff\n### Queries:\nQ1: A thing?\nQuery 2: B thing?") == ["A thing?", "B thing?"]
    assert parse_queries("") == []
    assert len(parse_queries("### Queries:\n" + "\n".join(f"q number {i}?" for i in range(50)))) == 10
    assert all(len(q) <= 500 for q in parse_queries("### Queries: " + "x" * 5000))
