"""Selection test fixtures: one real SmolLM2 engine per session, real HotpotQA pools, call counting.

- ``sel_engine``: the embedded SmolLM2-135M on the hf engine (the real model; loaded once).
- ``recording``: a factory for :class:`RecordingEngine`, a thin wrapper that delegates every
  call to the real engine and records the prompts, parameters and output texts of each ``generate`` call
  (so tests can count engine calls per stage and read the exact prompts). With
  ``replace_text`` it swaps the text of every completion for a fixed string after the
  real model ran (usage stays the model's): the documented way to feed the selector output
  that is garbage or over budget, deterministically.
- ``hotpot``: real HotpotQA-ircot dev pools (first 12 questions).
"""

from __future__ import annotations

import dataclasses

import pytest


class RecordingEngine:
    """Delegates to ``engine``; records ``(prompts, params)`` of every ``generate`` call."""

    def __init__(self, engine, replace_text: str | None = None):
        self.inner = engine
        self.replace_text = replace_text
        self.calls: list[tuple[list, object]] = []
        self.outputs: list[list[str]] = []  # per call: the first completion's text per prompt
        self.model_id = engine.model_id
        self.max_context = engine.max_context

    def generate(self, prompts, params):
        self.calls.append((list(prompts), params))
        out = self.inner.generate(prompts, params)
        if self.replace_text is not None:
            out = [[dataclasses.replace(c, text=self.replace_text) for c in cs] for cs in out]
        self.outputs.append([cs[0].text for cs in out])
        return out

    def count_tokens(self, text_or_messages):
        return self.inner.count_tokens(text_or_messages)

    def score(self, prompts, continuations):
        return self.inner.score(prompts, continuations)

    def close(self):  # the session engine outlives each test
        pass


@pytest.fixture(scope="session")
def sel_engine():
    from setsel.engines import load_engine

    # One torch thread: the test machine's 2 cores are shared, and OpenMP spin-waiting with 2
    # threads on oversubscribed cores was many times slower than 1 thread (measured here).
    engine = load_engine("hf:smollm2-135m", batch_size=8, num_threads=1)
    yield engine
    engine.close()


@pytest.fixture
def recording(sel_engine):
    def make(replace_text: str | None = None) -> RecordingEngine:
        return RecordingEngine(sel_engine, replace_text)

    return make


@pytest.fixture(scope="session")
def hotpot(data_dir):
    from setsel.datasets import load_dataset

    return load_dataset("hotpotqa-ircot", data_dir / "hotpotqa_ircot500" / "dev.jsonl", limit=12)
