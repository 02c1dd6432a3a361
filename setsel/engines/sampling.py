"""Per-row seeded sampling for the transformers engine.

transformers samples a whole batch from one global random stream, so a sample would depend
on which other prompts shared its batch. Here each row (one sample of one prompt) owns a
``torch.Generator`` seeded from ``(seed, prompt text, sample index)``: the same request
gives the same samples whether it runs alone, in a batch of 8, or after a resume.

:class:`SeededSampler` is a logits processor that does temperature, top-p and the draw
itself and leaves only the drawn token finite; ``generate`` then runs with
``do_sample=False`` (greedy picks that token). Other processors (a grammar mask) go
before it in the list.

Example:
    >>> row_seed(1, "prompt", 0) == row_seed(1, "prompt", 0) != row_seed(1, "prompt", 1)
    True
"""

from __future__ import annotations

import hashlib
from typing import Any


def row_seed(seed: int, prompt_text: str, sample: int) -> int:
    """A 63-bit seed for sample ``sample`` of the prompt whose templated text is ``prompt_text``."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{prompt_text}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


_CLASS: type | None = None


def make_sampler(seeds: list[int], temperature: float, top_p: float) -> Any:
    """A :class:`SeededSampler` for rows seeded with ``seeds`` (one per batch row)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _build_class()
    return _CLASS(seeds, temperature, top_p)


def _build_class() -> type:
    import torch
    from transformers import LogitsProcessor

    class SeededSampler(LogitsProcessor):
        """Draw one token per row from softmax(logits / T) restricted to the top-p nucleus."""

        def __init__(self, seeds: list[int], temperature: float, top_p: float):
            if temperature <= 0:
                raise ValueError("SeededSampler needs temperature > 0 (use greedy decoding for 0)")
            self.generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
            self.temperature = float(temperature)
            self.top_p = float(top_p)

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            if scores.shape[0] != len(self.generators):
                raise ValueError(f"sampler built for {len(self.generators)} rows got {scores.shape[0]}")
            logits = scores.detach().float().cpu() / self.temperature
            if self.top_p < 1.0:
                sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
                cum = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
                drop_sorted = cum - torch.softmax(sorted_logits, dim=-1) >= self.top_p  # keeps ≥ 1 token
                drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
                logits = logits.masked_fill(drop, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            chosen = torch.empty(len(self.generators), dtype=torch.long)
            for i, gen in enumerate(self.generators):
                row = probs[i]
                if not torch.isfinite(row).all() or float(row.sum()) <= 0:
                    chosen[i] = int(torch.argmax(scores[i]))  # every token masked: nothing to draw from
                else:
                    chosen[i] = int(torch.multinomial(row, 1, generator=gen))
            out = torch.full_like(scores, float("-inf"))
            out[torch.arange(len(chosen), device=scores.device), chosen.to(scores.device)] = 0.0
            return out

    return SeededSampler
