"""One batch → per-example losses: the forward pass over stacked sets, then a loss of
:mod:`setsel.training.losses`. torch only (no Ray, no DeepSpeed).

The forward asks the model for logits at the target positions only (``logits_to_keep``):
with left padding every row's target sits at the end, so a batch of m × 2,000-token
prompts needs logits for a few dozen positions instead of m × 2,000 × vocabulary.

Example:
    batch = Collator(tok, sets="all")(examples)
    per_example, stats = batch_losses(model, batch, loss="setlist", lam=0.1)
    (per_example.sum() / examples_in_step).backward()
"""

from __future__ import annotations

from typing import Any

import torch

from setsel.training import losses

LOSSES = ("sft", "dpo", "setlist")
# which sets each loss needs from the collator
SETS_FOR_LOSS = {"sft": "best", "dpo": "best_worst", "setlist": "all"}


def target_logits(model: Any, batch: dict[str, torch.Tensor], logits_to_keep: bool = True):
    """Forward the stacked sequences; return aligned ``(logits, labels, mask)``.

    ``logits[s, t]`` is the distribution for ``labels[s, t]``; ``mask`` marks target tokens.
    """
    input_ids, target_mask = batch["input_ids"], batch["target_mask"]
    width = input_ids.shape[1]
    kwargs = dict(input_ids=input_ids, attention_mask=batch["attention_mask"], position_ids=batch["position_ids"],
                  use_cache=False)
    if logits_to_keep:
        first = target_mask.to(torch.int8).argmax(dim=1)  # first target position per row
        start = int(first.min())
        if start < 1:
            raise ValueError("a row starts with a target token: the prompt is empty")
        keep = width - start + 1  # logits at positions start-1 … width-1
        logits = model(**kwargs, logits_to_keep=keep).logits
        return logits[:, :-1], input_ids[:, width - keep + 1:], target_mask[:, width - keep + 1:]
    logits = model(**kwargs).logits
    return losses.shift_for_causal_lm(logits, input_ids, target_mask)


def set_logprob_matrix(seq_logprobs: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Scatter the ``(S,)`` per-sequence log-probs into ``(N, m)`` by (example, slot); 0 in empty slots."""
    n, m = batch["set_mask"].shape
    out = seq_logprobs.new_zeros((n, m))
    return out.index_put((batch["example_index"], batch["set_slot"]), seq_logprobs)


def _unwrap(model: Any) -> Any:
    """The module inside DDP / a DeepSpeed engine."""
    while hasattr(model, "module") and not hasattr(model, "disable_adapter"):
        model = model.module
    return model


def reference_logprobs(model: Any, batch: dict[str, torch.Tensor], logits_to_keep: bool = True) -> torch.Tensor:
    """Summed target log-probs under the frozen reference: the same model, LoRA disabled."""
    inner = _unwrap(model)
    if not hasattr(inner, "disable_adapter"):
        raise ValueError("dpo needs a reference model: train with LoRA (the reference is the adapter-free base)")
    ctx = inner.disable_adapter()
    was_training = inner.training
    inner.eval()
    try:
        with torch.no_grad(), ctx:
            lg, lab, m = target_logits(inner, batch, logits_to_keep)
            return losses.sequence_logprobs(lg, lab, m)
    finally:
        inner.train(was_training)


def batch_losses(
    model: Any,
    batch: dict[str, torch.Tensor],
    loss: str,
    lam: float = 0.1,
    beta: float = 0.1,
    logits_to_keep: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Per-example losses ``(N,)`` for ``loss`` in ``sft | dpo | setlist`` and a few statistics.

    ``sft``: one target per example (s* or the teacher output), token-mean CE.
    ``dpo``: slots 0/1 = best/worst set, β = ``beta``. ``setlist``: every set, λ = ``lam``.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    ref = reference_logprobs(model, batch, logits_to_keep) if loss == "dpo" else None
    lg, lab, m = target_logits(model, batch, logits_to_keep)
    stats: dict[str, float] = {}
    if loss == "sft":
        per = losses.sft(lg, lab, m, reduction="none")
        n = batch["set_mask"].shape[0]
        if per.shape[0] != n:
            raise ValueError(f"sft expects one sequence per example, got {per.shape[0]} for {n} examples")
        return per, stats
    seq = losses.sequence_logprobs(lg, lab, m)
    lp = set_logprob_matrix(seq, batch)
    if loss == "setlist":
        per = losses.setlist(lp, batch["P"], batch["set_mask"], lam=lam, best=batch["best"], reduction="none")
        best_lp = lp.gather(1, batch["best"].view(-1, 1)).squeeze(1)
        stats["ce"] = float(-best_lp.detach().mean())
        return per, stats
    ref_lp = set_logprob_matrix(ref, batch)
    per = losses.dpo(lp[:, 0], lp[:, 1], ref_lp[:, 0], ref_lp[:, 1], beta=beta, reduction="none")
    margin = (lp[:, 0] - lp[:, 1]) - (ref_lp[:, 0] - ref_lp[:, 1])
    stats["reward_margin"] = float(beta * margin.detach().mean())
    return per, stats
