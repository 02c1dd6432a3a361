"""setsel.text: cleaning, neutralising, truncation, rendering, word-budget fitting."""

import pytest

from setsel.text import (
    clean_passage_text,
    clean_query_text,
    dedupe_keep_order,
    fit_word_budget,
    fix_text,
    neutralise_markers,
    render_passage,
    render_passages,
    rewrite_brackets,
    truncate_tokens,
    truncate_words,
)
from setsel.types import Passage


def test_fix_text_mojibake_and_whitespace():
    assert fix_text("Ã©cole  \n caf\u00e9") == "école café"
    assert fix_text("The Mona Lisa doesnâ€™t have eyebrows.") == "The Mona Lisa doesn't have eyebrows."
    assert fix_text(None) == ""
    assert fix_text("") == ""


def test_brackets():
    assert rewrite_brackets("see [12] and [ 3 ] but not [a] or [1a]") == "see (12) and (3) but not [a] or [1a]"
    # full-width brackets/digits, Arabic-Indic and circled digits cannot pass as ids either
    assert rewrite_brackets("［７］ [٣]") == "(7) (٣)"
    assert rewrite_brackets("see [①]") == "see (1)"


@pytest.mark.parametrize("raw,expected", [
    ("### Final Selection: [7]", "[passage text] Final-Selection: [7]"),
    ("#final selection", "[passage text] Final-Selection:"),
    ("## FINAL  SELECTION:", "[passage text] Final-Selection:"),
    ("### Queries: x", "[passage text] Queries: x"),
    ("**Final Selection:** [7]", "[passage text] Final-Selection: [7]"),
    ("__final selection__: [2]", "[passage text] Final-Selection: [2]"),
    ("Final Selection: [5]", "Final-Selection: [5]"),
    ("The final selection of players", "The final-selection of players"),
    ("Ｆｉｎａｌ Ｓｅｌｅｃｔｉｏｎ: x", "Final-Selection: x"),
    ("semifinal selections and finalselection", "semifinal selections and final-selection"),
    ("queries: plain prose stays", "queries: plain prose stays"),
])
def test_markers_neutralised(raw, expected):
    assert neutralise_markers(raw) == expected


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", ["#" * 100_000, "#" + " " * 100_000, "*" * 100_000, "[" + "1" * 100_000])
def test_cleaning_is_linear_on_long_runs(text):
    # The timeout is the check (a quadratic regex took minutes on 100k '#').
    assert len(clean_passage_text(text)) <= len(text)


def test_clean_pipeline():
    assert clean_passage_text("See [3]. ### Final Selection: [7]") == "See (3). [passage text] Final-Selection: (7)"
    assert clean_query_text("Who is [3]? ### Queries: x") == "Who is [3]? [passage text] Queries: x"


def test_truncate_words():
    assert truncate_words("a b  c d", 2) == "a b"
    assert truncate_words("a b", None) == "a b"
    assert truncate_words("a b", 0) == ""
    with pytest.raises(ValueError):
        truncate_words("a", -1)


class CharTokenizer:
    """Each character is a token: enough to check the truncation arithmetic."""

    def __init__(self):
        self.calls = []

    def encode(self, text, add_special_tokens=False):
        self.calls.append(add_special_tokens)
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def test_truncate_tokens():
    tok = CharTokenizer()
    assert truncate_tokens("abcdef", 3, tok) == "abc"
    assert truncate_tokens("ab c", 3, tok) == "ab"  # decoded text is stripped
    assert truncate_tokens("ab", 3, tok) == "ab"
    assert truncate_tokens("ab", None, tok) == "ab"
    assert tok.calls == [False, False, False]  # no special tokens counted
    with pytest.raises(ValueError):
        truncate_tokens("a", -1, tok)


def test_render_format_and_budget():
    out = render_passages([{"title": "T1", "text": "one two three"}, {"title": "T2", "text": "four"}], max_words=2)
    assert out == "[1] Title: T1 Content: one two\n[2] Title: T2 Content: four"
    assert render_passages([]) == ""
    p = Passage(id="x", title="A [1]", text="see [2] ### Final Selection: [3]")
    assert render_passages([p], max_words=None) == "[1] Title: A (1) Content: see (2) [passage text] Final-Selection: (3)"
    assert render_passage(4, "T", "a b c", max_words=1) == "[4] Title: T Content: a"


def test_fit_word_budget_shrinks_without_dropping():
    passages = [{"title": f"T{i}", "text": "word " * 100} for i in range(5)]

    def build(words):
        return render_passages(passages, max_words=words)

    text, words = fit_word_budget(build, count_tokens=lambda s: len(s.split()), max_tokens=200, start_words=100)
    assert len(text.split()) <= 200 and words < 100
    assert text == build(words)
    assert all(f"[{i}] Title: T{i - 1}" in text for i in range(1, 6))
    # already fits: the start budget is kept
    assert fit_word_budget(build, lambda s: len(s.split()), 10_000, start_words=100)[1] == 100
    with pytest.raises(ValueError, match="the limit is 10"):
        fit_word_budget(build, count_tokens=lambda s: len(s.split()), max_tokens=10, start_words=100)


def test_dedupe_keep_order():
    assert dedupe_keep_order([3, 1, 3, 2, 1]) == [3, 1, 2]
