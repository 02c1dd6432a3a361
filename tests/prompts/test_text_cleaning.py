"""setsel.text: cleaning, neutralising, truncation, rendering, word-budget fitting."""

import pytest

from setsel.text import (
    clean_passage_text,
    fit_word_budget,
    fix_text,
    neutralise_markers,
    render_passages,
    rewrite_brackets,
    truncate_tokens,
    truncate_words,
)


def test_fix_text_mojibake_and_whitespace():
    assert fix_text("Ã©cole  \n caf\u00e9") == "école café"
    assert fix_text(None) == ""


def test_brackets():
    assert rewrite_brackets("see [12] and [ 3 ] but not [a]") == "see (12) and (3) but not [a]"


@pytest.mark.parametrize("raw", ["### Final Selection: [7]", "#final selection", "## FINAL  SELECTION:", "### Queries: x"])
def test_markers_neutralised(raw):
    out = neutralise_markers(raw)
    assert "#" not in out and "[passage text]" in out


def test_clean_pipeline():
    assert clean_passage_text("See [3]. ### Final Selection: [7]") == "See (3). [passage text] Final-Selection: (7)"


def test_truncate_words():
    assert truncate_words("a b  c d", 2) == "a b"
    assert truncate_words("a b", None) == "a b"
    with pytest.raises(ValueError):
        truncate_words("a", -1)


class CharTokenizer:
    """Each character is a token: enough to check the truncation arithmetic."""

    def encode(self, text, add_special_tokens=False):
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids)


def test_truncate_tokens():
    assert truncate_tokens("abcdef", 3, CharTokenizer()) == "abc"
    assert truncate_tokens("ab", 3, CharTokenizer()) == "ab"


def test_render_format_and_budget():
    out = render_passages([{"title": "T1", "text": "one two three"}, {"title": "T2", "text": "four"}], max_words=2)
    assert out == "[1] Title: T1 Content: one two\n[2] Title: T2 Content: four"
    assert render_passages([]) == ""


def test_fit_word_budget_shrinks_without_dropping():
    passages = [{"title": f"T{i}", "text": "word " * 100} for i in range(5)]

    def build(words):
        return render_passages(passages, max_words=words)

    text, words = fit_word_budget(build, count_tokens=lambda s: len(s.split()), max_tokens=200, start_words=100)
    assert len(text.split()) <= 200 and words < 100
    assert all(f"[{i}] Title: T{i - 1}" in text for i in range(1, 6))
    with pytest.raises(ValueError):
        fit_word_budget(build, count_tokens=lambda s: len(s.split()), max_tokens=10, start_words=100)
