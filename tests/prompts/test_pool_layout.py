"""The llm_head input layout (issue 18): positions counted by hand on a word tokenizer, cleaning,
truncation, recap labels, and agreement with the real SmolLM2 tokenizer."""

from __future__ import annotations

import pytest

from setsel.prompts.pool_layout import PoolLayout


def words(text: str) -> list[str]:
    return text.split()


def test_positions_hand_counted():
    seq = PoolLayout(max_words=2).encode("Who won?", [("Alpha", "one two three"), ("Beta", "four")], words)
    # Question: Who won? Passages: | [1] Alpha: one two | [2] Beta: four | Question: Who won? Needed passages:
    # | [1] Alpha | [2] Beta
    assert seq.tokens == ["Question:", "Who", "won?", "Passages:", "[1]", "Alpha:", "one", "two", "[2]", "Beta:",
                          "four", "Question:", "Who", "won?", "Needed", "passages:", "[1]", "Alpha", "[2]", "Beta"]
    assert seq.end_positions == [7, 10]
    assert seq.recap_positions == [17, 19]
    assert seq.length == 20


def test_untitled_passage_uses_its_first_words_and_text_is_cleaned():
    layout = PoolLayout(max_words=50, recap_words=3)
    seq = layout.encode("Q?", [("", "See [3] here ### Final Selection: [7] now")], words)
    body = seq.tokens[4 : seq.end_positions[0] + 1]
    assert "[3]" not in body and "(3)" in body and "###" not in body   # ids and planted markers neutralised
    assert seq.tokens[seq.recap_positions[0] - 3 : seq.recap_positions[0] + 1] == ["[1]", "See", "(3)", "here"]


def test_empty_pool_and_empty_text():
    layout = PoolLayout()
    assert layout.encode("Q?", [], words).end_positions == []
    seq = layout.encode("Q?", [("T", "")], words)
    assert seq.tokens[seq.end_positions[0]] == "T:" and seq.tokens[seq.recap_positions[0]] == "T"


@pytest.mark.slow
def test_positions_point_at_each_passage_with_the_real_tokenizer(hotpot_pool):
    from setsel.training.model import load_tokenizer, resolve_base

    tok = load_tokenizer(resolve_base("smollm2-135m"))
    layout = PoolLayout(max_words=40)
    question, passages = hotpot_pool
    seq = layout.encode(question, passages, lambda s: tok.encode(s, add_special_tokens=False))
    assert len(seq.end_positions) == len(seq.recap_positions) == len(passages)
    assert seq.end_positions == sorted(seq.end_positions) and seq.end_positions[-1] < seq.recap_positions[0]
    # each passage's span decodes to its own text, each recap span to its title
    starts = [0] + [e + 1 for e in seq.end_positions[:-1]]
    for i, (title, _) in enumerate(passages):
        span = tok.decode(seq.tokens[starts[i] : seq.end_positions[i] + 1])
        assert f"[{i + 1}] {title}:" in span
        recap = tok.decode(seq.tokens[seq.recap_positions[i] - 20 : seq.recap_positions[i] + 1])
        assert recap.endswith(f"[{i + 1}] {title}")


@pytest.fixture
def hotpot_pool(data_dir):
    from setsel.datasets import load_dataset

    c = load_dataset("hotpotqa-ircot", limit=1)[0]
    return c.query.question, [(p.title, p.text) for p in c.passages]
