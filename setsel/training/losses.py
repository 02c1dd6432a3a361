"""Training losses as pure tensor functions (torch only): ``sft``, ``dpo``, ``setlist``, ``pool_listwise``.

Conventions shared by every function here:

- ``logits`` are *already aligned* with ``labels``: ``logits[b, t]`` is the model's
  distribution over the token ``labels[b, t]``. For a causal LM's output use
  :func:`shift_for_causal_lm` first (it drops the last logit and the first label).
- ``mask`` (bool or 0/1) marks the target tokens that count; prompt and padding are 0.
- Normalisation (what makes gradient accumulation exact): every loss is first computed
  **per example** (one number per training example, independent of what else is in the
  batch), then reduced with ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"``.
  The trainer uses ``"sum"`` divided by the number of examples in the whole optimizer step
  (equivalently, the per-micro-batch mean divided by the accumulation steps when every
  micro-batch has the same size), so batch 4 × accumulation 1 and batch 1 × accumulation 4
  give the same gradient (tests/training/test_training_losses.py checks it).
- ``sft`` averages over an example's target tokens (token-level CE); ``setlist`` and
  ``dpo`` use *summed* sequence log-probabilities, as their equations are written.

Example:
    >>> import torch
    >>> logits = torch.zeros(1, 2, 2)          # uniform over a 2-token vocabulary
    >>> labels = torch.tensor([[0, 1]]); mask = torch.tensor([[1, 1]])
    >>> round(float(sequence_logprobs(logits, labels, mask)[0]), 4)   # 2·log(1/2)
    -1.3863
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    if reduction == "none":
        return per_example
    raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def shift_for_causal_lm(
    logits: torch.Tensor, input_ids: torch.Tensor, target_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Align a causal LM's ``(B, T, V)`` output with its ``(B, T)`` input.

    Position ``t`` predicts token ``t + 1``: returns ``(logits[:, :-1], input_ids[:, 1:],
    target_mask[:, 1:])``. ``target_mask`` marks target tokens in ``input_ids``.
    """
    return logits[:, :-1, :], input_ids[:, 1:], target_mask[:, 1:]


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[b, t, labels[b, t]]`` as a ``(B, T)`` tensor (fp32 or wider)."""
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not align")
    logp = F.log_softmax(logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits, dim=-1)
    return logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Summed log-probabilities of the masked target tokens, one per row: ``(B,)``.

    ``ℓ_b = Σ_t mask[b, t] · log p(labels[b, t])`` — OptiSet Eq. 12 when row ``b`` is set
    ``s_i``'s target. Positions outside ``mask`` never contribute (not even NaN/inf).
    """
    lp = token_logprobs(logits, labels)
    m = mask.to(torch.bool)
    return torch.where(m, lp, torch.zeros_like(lp)).sum(dim=-1)


def sft(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Token-level cross-entropy on target tokens only (SetR SFT; OptiSet Eq. 10 per token).

    Per example: ``−(1/n_b) Σ_t mask[b, t] · log p(labels[b, t])`` with ``n_b`` the example's
    target-token count (rows without target tokens are an error). Then ``reduction``.
    """
    n = mask.to(torch.bool).sum(dim=-1)
    if bool((n == 0).any()):
        raise ValueError("sft: a row has no target tokens (mask is all zero)")
    summed = sequence_logprobs(logits, labels, mask)
    per_example = -summed / n.to(summed.dtype)
    return _reduce(per_example, reduction)


def dpo(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    """Direct Preference Optimisation (Rafailov et al. 2023, Eq. 7), best vs worst set.

    Inputs are summed sequence log-probs ``(N,)`` of the chosen (best-P) and rejected
    (worst-P) set under the policy and the frozen reference model. Per example:
    ``−log σ(β · [(π_c − π_r) − (ρ_c − ρ_r)])``. Then ``reduction``.
    """
    if beta <= 0:
        raise ValueError(f"dpo: beta must be > 0, got {beta}")
    margin = (policy_chosen - policy_rejected) - (reference_chosen - reference_rejected)
    per_example = -F.logsigmoid(beta * margin)
    return _reduce(per_example, reduction)


def setlist(
    set_logprobs: torch.Tensor,
    P: torch.Tensor,
    set_mask: torch.Tensor | None = None,
    lam: float = 0.1,
    best: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """OptiSet set-list-wise loss, §3.3 Eq. 9–15 (Algorithm 2): ``L = CE + λ·KL(𝒫 ‖ 𝒬)``.

    Args:
        set_logprobs: ``(N, m)`` — ``ℓ_i = log pθ(s_i | q, D)``, the summed log-probs of set
            ``i``'s target tokens (Eq. 12; :func:`sequence_logprobs`).
        P: ``(N, m)`` preference scores of the sets (OptiSet Eq. 8).
        set_mask: ``(N, m)`` bool, False for padding slots (examples with fewer sets).
        lam: λ, the balance coefficient of Eq. 15 (0.1 by default).
        best: ``(N,)`` index of s* per example; default ``argmax P`` over valid sets (Eq. 9).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over examples.
    Returns:
        The loss (scalar, or ``(N,)`` with ``reduction="none"``).

    Per example: ``CE = −ℓ_{s*}`` (Eq. 10); ``𝒫 = softmax(P)`` (Eq. 11); ``𝒬 = softmax(ℓ)``
    (Eq. 13); ``KL = Σ_i 𝒫_i (log 𝒫_i − log 𝒬_i)`` (Eq. 14); ``L = CE + λ·KL`` (Eq. 15).
    Softmaxes run over the valid slots only.
    """
    if set_logprobs.shape != P.shape or set_logprobs.dim() != 2:
        raise ValueError(f"setlist: set_logprobs {tuple(set_logprobs.shape)} and P {tuple(P.shape)} must be (N, m)")
    valid = torch.ones_like(P, dtype=torch.bool) if set_mask is None else set_mask.to(torch.bool)
    if bool((valid.sum(dim=-1) == 0).any()):
        raise ValueError("setlist: an example has no valid set")
    P = P.to(set_logprobs.dtype)
    neg_inf = torch.finfo(set_logprobs.dtype).min
    if best is None:
        best = P.masked_fill(~valid, neg_inf).argmax(dim=-1)  # Eq. 9: s* = argmax_i P_i
    ce = -set_logprobs.gather(-1, best.view(-1, 1)).squeeze(-1)  # Eq. 10
    log_target = F.log_softmax(P.masked_fill(~valid, neg_inf), dim=-1)  # Eq. 11 (log 𝒫)
    log_model = F.log_softmax(set_logprobs.masked_fill(~valid, neg_inf), dim=-1)  # Eq. 13 (log 𝒬)
    terms = log_target.exp() * (log_target - log_model)  # Eq. 14, one term per set
    kl = torch.where(valid, terms, torch.zeros_like(terms)).sum(dim=-1)
    per_example = ce + lam * kl  # Eq. 15
    return _reduce(per_example, reduction)


def pool_listwise(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Listwise ranking loss over one pool's passage logits (the ``llm_head`` trainer's optional term).

    Multi-positive softmax cross-entropy in which gold passages do not compete with each other:
    for every gold passage ``g``, ``−log( e^{s_g} / (e^{s_g} + Σ_{n ∉ G} e^{s_n}) )``, averaged over
    the gold passages. It rewards only the *order* of gold above non-gold passages (adding a
    constant to every logit leaves it unchanged), which BCE's per-passage calibration does not.

    Args:
        logits: ``(n,)`` one score per passage of the pool.
        labels: ``(n,)`` 1 for a gold passage, 0 otherwise (0/1 floats or bools).
    Returns:
        A scalar; 0 when the pool has no gold or no non-gold passage (nothing to rank).

    Example:
        >>> import torch
        >>> round(float(pool_listwise(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))), 4)  # log 2
        0.6931
    """
    if logits.dim() != 1 or logits.shape != labels.shape:
        raise ValueError(f"pool_listwise: logits {tuple(logits.shape)} and labels {tuple(labels.shape)} must be (n,)")
    gold = labels.to(torch.bool)
    if not bool(gold.any()) or bool(gold.all()):
        return logits.sum() * 0.0
    neg = torch.logsumexp(logits[~gold], dim=0)
    pos = logits[gold]
    per_gold = torch.logaddexp(pos, neg) - pos     # −log softmax over {g} ∪ negatives
    return per_gold.mean()
