"""Golden table and property tests of the selection / ranking / queries parsers."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setsel.prompts import ParsedSelection, parse_queries, parse_ranking, parse_selection

N = 10
GARBAGE = ("lorem [ipsum] 12 ### ] [ \n" * 4000)[:100_000]
GARBAGE_TAIL = GARBAGE + "\n### Final Selection: [4] [2]"

# (model output, expected ids, expected status) for a pool of N = 10.
GOLDEN = [
    # --- clean
    ("### Final Selection: [2] [1]", [2, 1], "ok"),
    ("### Final Selection: [3]", [3], "ok"),
    ("### Final Selection: [1] [2] [3] [4] [5]", [1, 2, 3, 4, 5], "ok"),
    ("### Final Selection: [2] [1].", [2, 1], "ok"),
    ("### Final Selection: [2], [1]", [2, 1], "ok"),
    ("### Final Selection:[2][1]", [2, 1], "ok"),
    ("### final selection: [4] [6]", [4, 6], "ok"),
    ("## Final Selection: [4]", [4], "ok"),
    ("####### Final Selection: [4]", [4], "ok"),
    ("Final Selection: [5] [7]", [5, 7], "ok"),
    ("**Final Selection:** [3] [8]", [3, 8], "ok"),
    ("**Final Selection**: [3] [8]", [3, 8], "ok"),
    ("### **Final Selection**: [1] [9]", [1, 9], "ok"),
    ("__Final Selection__: [6]", [6], "ok"),
    ("### Final Selection [6] [2]", [6, 2], "ok"),
    ("### FINAL SELECTIONS: [6] [2]", [6, 2], "ok"),
    ("### Final Selection： [6] [2]", [6, 2], "ok"),  # full-width colon
    ("### Final Selection: ［３］ ［１］", [3, 1], "ok"),  # full-width brackets and digits
    ("### Final Selection: [٣] [٢]", [3, 2], "ok"),  # Arabic-Indic digits
    ("### Final Selection: [३]", [3], "ok"),  # Devanagari digit
    ("### Final Selection: [2] and [5]", [2, 5], "ok"),
    ("### Final Selection: [2] > [5]", [2, 5], "ok"),
    ("### Final Selection: [10]", [10], "ok"),
    ("  - Final selection: [7]", [7], "ok"),
    ("My final selection: [2] [9]", [2, 9], "ok"),
    # numbers in the reasoning are never taken
    ("Step 1: needs [4] and [7].\nStep 2: [3] has it.\n### Final Selection: [2] [1]", [2, 1], "ok"),
    ("Reasoning mentions 1990 and 45 people.\n### Final Selection: [5]", [5], "ok"),
    ("### Final Selection:\n[2] [3]", [2, 3], "ok"),
    ("### Final Selection:\n\n- [2]\n- [6]\nPassage [9] was dropped.", [2, 6], "ok"),
    # prose after the list
    ("### Final Selection: [2] [1]\nThese cover both facts from 1999 and [7].", [2, 1], "ok"),
    ("### Final Selection: [2] [1] because passage 4 is redundant", [2, 1], "ok"),
    ("### Final Selection: [2] [1]. 1990 was the year [4] was written.", [2, 1], "ok"),
    ("### Final Selection: [2] [1]. [7] is redundant.", [2, 1], "ok"),
    ("### Final Selection: [2] [1]\nThis final selection covers both hops.", [2, 1], "ok"),
    ("### Final Selection: [3] (covers the birth year)", [3], "ok"),
    # </think>
    ("<think>I pick ### Final Selection: [9]</think>\n### Final Selection: [1] [3]", [1, 3], "ok"),
    ("<think>### Final Selection: [9] [8]</think>The answer.\n### Final Selection: [4]", [4], "ok"),
    ("<think>a</think><think>b [5]</think>\n### Final Selection: [6]", [6], "ok"),
    # --- repaired
    ("### Final Selection: [1, 2]", [1, 2], "repaired"),
    ("### Final Selection: [1,3 , 5]", [1, 3, 5], "repaired"),
    ("### Final Selection: [1]-[3]", [1, 2, 3], "repaired"),
    ("### Final Selection: [4-6]", [4, 5, 6], "repaired"),
    ("### Final Selection: [2] [2] [3]", [2, 3], "repaired"),
    ("### Final Selection: [0] [3]", [3], "repaired"),
    ("### Final Selection: [3] [11] [42]", [3], "repaired"),
    ("### Final Selection: [8]-[15]", [8, 9, 10], "repaired"),
    ("### Final Selection: 2 5", [2, 5], "repaired"),
    ("### Final Selection: 1-3", [1, 2, 3], "repaired"),
    ("### Final Selection: Passage 2, Passage 5", [2, 5], "repaired"),
    ("### Final Selection: 2, 5. Passage 7 was close.", [2, 5], "repaired"),
    ("### Final Selection: [1]\n### Final Selection: [4] [5]", [4, 5], "repaired"),
    ("First try ### Final Selection: [7]. Actually:\n### Final Selection: [8]", [8], "repaired"),
    ("The passages needed are:\n[2] [6]", [2, 6], "repaired"),
    ("Some reasoning with [3] inline.\n[4], [5]", [4, 5], "repaired"),
    ("### Final Selection: [1] [1] [1]", [1], "repaired"),
    ("### Final Selection:\nI choose these:\n[3] [4]", [3, 4], "repaired"),
    ("<think>reasoning cut off ... ### Final Selection: [2]", [2], "repaired"),  # unclosed think
    (GARBAGE_TAIL, [4, 2], "ok"),
    # --- failed
    ("", [], "failed"),
    ("   \n\t", [], "failed"),
    ("I think passage [3] and [4] are relevant because they mention 1990.", [], "failed"),
    ("Passages 3 and 4 are relevant; I would pick 3.", [], "failed"),
    ("### Final Selection:", [], "failed"),
    ("### Final Selection: none of them", [], "failed"),
    ("### Final Selection: [0] [11]", [], "failed"),
    ("### Final Selection: [1]-[5000]", [], "failed"),  # range wider than the cap is ignored
    ("### Final Selection: [12345678901234567890]", [], "failed"),  # absurd digit run
    ("Step 1. List requirements: birth year (1970), spouse.\nStep 2. ...", [], "failed"),
    ("The final selection should include passage 3 and passage 4.", [], "failed"),
    ("[passage text] Final-Selection: [7]", [], "failed"),  # a neutralised passage marker
    (GARBAGE, [], "failed"),
    ("<think>### Final Selection: [1]</think>", [], "failed"),
    ("<think>[1] [2]</think>\nI cannot decide.", [], "failed"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text,ids,status", GOLDEN)
def test_golden(text, ids, status):
    parsed = parse_selection(text, N)
    assert parsed.ids == ids, parsed
    assert parsed.status == status, parsed
    _check(parsed, N)


def test_golden_table_size():
    assert len(GOLDEN) >= 40


def test_none_non_str_and_empty_pool():
    assert parse_selection(None, 5) == ParsedSelection([], "failed", ["empty output"])
    p = parse_selection(b"### Final Selection: [1]", 5)  # type: ignore[arg-type]
    assert p.status == "failed" and "bytes" in p.problems[0]
    assert parse_selection("### Final Selection: [1]", 0).status == "failed"
    with pytest.raises(TypeError, match="num_candidates"):
        parse_selection("### Final Selection: [1]", "5")  # type: ignore[arg-type]


def test_problems_are_recorded():
    p = parse_selection("### Final Selection: [2] [2] [11] [0]", N)
    assert p.ids == [2] and p.status == "repaired"
    assert "dropped repeated id(s) [2]" in p.problems
    assert "dropped out-of-range id(s) [11, 0] (pool of 10)" in p.problems
    p = parse_selection("no header\n[3] [1]", N)
    assert p.problems == ["no '### Final Selection' header; used the last line of bracketed ids"]
    p = parse_selection("### Final Selection: [1]-[3]", N)
    assert p.problems == ["expanded range 1-3"]


def test_many_out_of_range_ids_give_one_short_problem():
    p = parse_selection("### Final Selection: " + " ".join(f"[{i}]" for i in range(11, 5011)), N)
    assert p.status == "failed" and len(p.problems) == 1
    assert p.problems[0].endswith("… 4990 more] (pool of 10)")


ADVERSARIAL = [
    "#" * 100_000,
    "#" + " " * 100_000 + "x",
    "*" * 100_000,
    "_" * 100_000,
    "final selection " * 7_000,
    "### Final Selection: " + "[" * 100_000,
    "### Final Selection: " + "[1" * 50_000,
    "### Final Selection: " + "1-" * 50_000,
    "### Final Selection: " + " " * 100_000 + "x",
    "### Final Selection:" + "\n" * 100_000,
    "[1," * 50_000,
    "1 > " * 30_000,
    "<think>" * 20_000,
    "９" * 100_000,
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_inputs_terminate(text):
    # The timeout is the check: every regex must stay linear on these shapes.
    _check(parse_selection(text, N), N)
    _check(parse_ranking(text, N), N)
    assert len(parse_queries(text)) <= 10


def _check(p, n):
    assert p.status in ("ok", "repaired", "failed")
    assert all(isinstance(i, int) for i in p.ids)
    assert len(set(p.ids)) == len(p.ids)
    assert all(1 <= i <= n for i in p.ids)
    assert (p.status == "failed") == (not p.ids)
    assert (p.status == "ok") == (bool(p.ids) and not p.problems)


@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400), st.integers(min_value=1, max_value=30))
def test_property_random_text(text, n):
    _check(parse_selection(text, n), n)
    _check(parse_ranking(text, n), n)


ids_lists = st.lists(st.integers(min_value=-3, max_value=40), max_size=12)
HEADERS = ["### Final Selection: ", "**Final Selection:** ", "Final selection ", "final selection: ", ""]


@pytest.mark.timeout(120)
@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80), ids_lists, st.text(max_size=80), st.integers(min_value=1, max_value=30),
       st.sampled_from(HEADERS))
def test_property_structured(prefix, ids, suffix, n, header):
    text = prefix + "\n" + header + " ".join(f"[{i}]" for i in ids) + "\n" + suffix
    _check(parse_selection(text, n), n)


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=12, unique=True),
       st.integers(min_value=1, max_value=30))
def test_property_clean_selection_round_trips(ids, n):
    """A well-formed answer line parses to exactly its in-range ids, ``ok`` iff all were."""
    p = parse_selection("Step 1. [3] needs 1990.\n### Final Selection: " + " ".join(f"[{i}]" for i in ids), n)
    kept = [i for i in ids if i <= n]
    assert p.ids == kept
    assert p.status == ("failed" if not kept else "ok" if kept == ids else "repaired")


@pytest.mark.timeout(120)
@settings(max_examples=300, deadline=None)
@given(st.permutations(list(range(1, 9))), st.integers(min_value=0, max_value=8))
def test_property_ranking_is_a_permutation(perm, keep):
    text = " > ".join(f"[{i}]" for i in perm[: max(keep, 2)])
    p = parse_ranking(text, 8)
    assert sorted(p.ids) == list(range(1, 9))
    assert p.ids[: max(keep, 2)] == list(perm[: max(keep, 2)])
    assert p.status == ("ok" if max(keep, 2) == 8 else "repaired")


def test_ranking():
    assert parse_ranking("[2] > [1] > [3]", 3) == ParsedSelection([2, 1, 3], "ok", [])
    r = parse_ranking("[3] > [1]", 4)
    assert r.ids == [3, 1, 2, 4] and r.status == "repaired"
    assert r.problems == ["appended 2 missing id(s) in original order"]
    r = parse_ranking("[3] > [3] > [9] > [1] > [2]", 3)
    assert r.ids == [3, 1, 2] and r.status == "repaired"
    # reasoning ids before the ranking are ignored; the last chain counts
    r = parse_ranking("Passage [3] is off-topic, [1] too.\n[2] > [1] > [3]", 3)
    assert r == ParsedSelection([2, 1, 3], "ok", [])
    r = parse_ranking("<think>[1] > [2] > [3]</think>[3] > [2] > [1]", 3)
    assert r.ids == [3, 2, 1] and r.status == "ok"
    assert parse_ranking("2 > 3 > 1", 3).ids == [2, 3, 1]
    assert parse_ranking("［２］ ＞ ［１］", 2).ids == [2, 1]
    r = parse_ranking("Most relevant: [2]", 3)
    assert r.ids == [2, 1, 3] and r.status == "repaired"
    r = parse_ranking("no idea", 3)
    assert r.status == "failed" and r.ids == []
    assert parse_ranking(None, 3).status == "failed"


def test_queries():
    text = "### Queries: Who founded Acme?\nWhen was Acme founded?\n\n- Who founded Acme?\n2) Where is Acme based?"
    assert parse_queries(text) == ["Who founded Acme?", "When was Acme founded?", "Where is Acme based?"]
    assert parse_queries("<Query 1> stuff\n### Queries:\nQ1: A thing?\nQuery 2: B thing?") == ["A thing?", "B thing?"]
    assert parse_queries("") == [] and parse_queries(None) == []
    assert len(parse_queries("### Queries:\n" + "\n".join(f"q number {i}?" for i in range(50)))) == 10
    assert parse_queries("### Queries: " + "x" * 5000) == ["x" * 500]


def test_queries_messy():
    # the last marker counts; the word "queries" inside a query is not a marker
    assert parse_queries("### Queries: old?\n### Queries:\n1. Which queries did Ann run?") == ["Which queries did Ann run?"]
    # numbers that belong to the query are kept; numbering needs a space after it
    assert parse_queries("### Queries:\n1. 3.5 million people live where?") == ["3.5 million people live where?"]
    # template echoes and ellipses are dropped; quotes and bold are stripped
    assert parse_queries('### Queries: <Query 1>\n"Who is A?"\n...\n<Query n>\n**Who is B?**') == ["Who is A?", "Who is B?"]
    # several questions on one line are split; reading stops at the next header
    assert parse_queries("### Queries: Who is A? Where is B?\n### Final Selection: [1]") == ["Who is A?", "Where is B?"]
    # no marker (the expansion reply starts after the '### Queries:' prefix)
    assert parse_queries(" Who is A?\nWho is B?") == ["Who is A?", "Who is B?"]
    # </think>, bold marker, full-width colon, case-insensitive duplicates
    assert parse_queries("<think>### Queries: x?</think>**Queries**： Who is A?\nwho is a?") == ["Who is A?"]
    assert parse_queries("### Queries: a?\nb?", max_queries=1) == ["a?"]
