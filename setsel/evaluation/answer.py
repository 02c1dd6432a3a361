"""Answer generation for end-to-end evaluation: the ``answer`` template over the selected set.

Each question is answered from its selected passages (in selection order) with the
``answer`` prompt (OptiSet Table 8: "Answer the question below concisely in a few
words."), greedy decoding, a short token budget, the whole batch in one engine call.
The prediction is the first non-empty line of the reply (small models often keep going
after the answer). A prompt longer than the model's context is re-rendered with a
smaller per-passage word budget (300 → 150 → … → 25 words); passages are never dropped.

Example (with a real engine)::

    answers = generate_answers(engine, batch, selections)
    answers[0].prediction, answers[0].prompt_tokens
"""

from __future__ import annotations

from dataclasses import dataclass

from setsel.types import Candidates, GenerationParams, Message, Selection

DEFAULT_MAX_TOKENS = 32
_WORD_BUDGETS = (300, 150, 75, 40, 25)


@dataclass
class Answer:
    """One generated answer: the ``prediction`` scored by EM/F1, the raw reply, its prompt tokens."""

    prediction: str
    raw: str
    prompt_tokens: int


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped (``""`` if none)."""
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def answer_prompt(engine, candidates: Candidates, selected_ids: list[str], max_tokens: int) -> list[Message]:
    """The ``answer`` prompt for one question, shrunk per passage until it fits the context."""
    from setsel.prompts import render

    by_id = {p.id: p for p in candidates.passages}
    passages = [by_id[i] for i in selected_ids]
    budget = getattr(engine, "max_context", None)
    messages: list[Message] = []
    for words in _WORD_BUDGETS:
        messages = render("answer", question=candidates.query.question, passages=passages, max_words=words)
        if budget is None or not passages or engine.count_tokens(messages) + max_tokens <= budget:
            break
    return messages


def generate_answers(engine, batch: list[Candidates], selections: list[Selection],
                     max_tokens: int = DEFAULT_MAX_TOKENS) -> list[Answer]:
    """Answer every question of ``batch`` from its selection, greedily, in one engine call."""
    from setsel.prompts import get_template

    if len(batch) != len(selections):
        raise ValueError(f"generate_answers: {len(batch)} questions but {len(selections)} selections")
    if not batch:
        return []
    prompts = [answer_prompt(engine, c, s.selected_ids, max_tokens) for c, s in zip(batch, selections)]
    params = GenerationParams(n=1, temperature=0.0, max_tokens=max_tokens)
    outputs = engine.generate(prompts, params)
    template = get_template("answer")
    answers = []
    for completions in outputs:
        completion = completions[0]
        extracted = template.extract(completion.text)
        answers.append(Answer(prediction=first_line(extracted if extracted is not None else completion.text),
                              raw=completion.text, prompt_tokens=int(completion.prompt_tokens)))
    return answers
