"""Losses against hand-computed values, and the batch × accumulation invariance.

Every expected number below is derived by hand in the comment next to it (math.log only
evaluates the closed form); none comes from calling the function under test.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from setsel.training import losses

LN3 = math.log(3.0)


def _two_rows():
    """Vocabulary of 2. Logits [0, 0] → p = (1/2, 1/2); [ln 3, 0] → p = (3/4, 1/4)."""
    logits = torch.tensor(
        [
            [[0.0, 0.0], [LN3, 0.0], [LN3, 0.0], [-1e9, 0.0]],
            [[-1e9, 0.0], [LN3, 0.0], [LN3, 0.0], [0.0, 0.0]],
        ],
        dtype=torch.float64,
    )
    labels = torch.tensor([[0, 0, 1, 0], [0, 0, 1, 1]])
    # row 0 counts tokens 0,1: log(1/2) + log(3/4) = log(3/8); token 3 (p ≈ 0) is masked
    # row 1 counts tokens 1,2,3: log(3/4) + log(1/4) + log(1/2) = log(3/32); token 0 masked
    mask = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]])
    return logits, labels, mask


def test_sequence_logprobs_hand_values():
    logits, labels, mask = _two_rows()
    got = losses.sequence_logprobs(logits, labels, mask)
    torch.testing.assert_close(got, torch.tensor([math.log(3 / 8), math.log(3 / 32)], dtype=torch.float64))


def test_shift_for_causal_lm_aligns_prediction_with_next_token():
    logits = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 3, 4)
    ids = torch.tensor([[5, 6, 7], [8, 9, 10]])
    tm = torch.tensor([[0, 1, 1], [0, 0, 1]])
    lg, lab, m = losses.shift_for_causal_lm(logits, ids, tm)
    assert lg.shape == (2, 2, 4)
    assert torch.equal(lg[:, 0], logits[:, 0]) and torch.equal(lab, ids[:, 1:]) and torch.equal(m, tm[:, 1:])


def test_sft_is_token_mean_per_example_then_mean():
    logits, labels, mask = _two_rows()
    row0 = -math.log(3 / 8) / 2  # 2 target tokens: 0.4904146
    row1 = -math.log(3 / 32) / 3  # 3 target tokens: (5 ln 2 − ln 3)/3 = 2.3671236/3 = 0.7890412
    per = losses.sft(logits, labels, mask, reduction="none")
    torch.testing.assert_close(per, torch.tensor([row0, row1], dtype=torch.float64))
    assert float(losses.sft(logits, labels, mask)) == pytest.approx((row0 + row1) / 2, abs=1e-12)
    assert float(losses.sft(logits, labels, mask, reduction="sum")) == pytest.approx(row0 + row1, abs=1e-12)
    assert row0 == pytest.approx(0.4904146, abs=1e-7) and row1 == pytest.approx(0.7890412, abs=1e-7)


def test_sft_rejects_rows_without_targets():
    logits, labels, _ = _two_rows()
    with pytest.raises(ValueError, match="no target tokens"):
        losses.sft(logits, labels, torch.zeros_like(labels))


def test_dpo_hand_values():
    # ex 0: (π_c − π_r) − (ρ_c − ρ_r) = (−1 + 3) − (−2 + 2) = 2; β·2 = 1 → −log σ(1) = log(1 + e^−1)
    # ex 1: (−2 + 1) − (−1 + 1) = −1; β·(−1) = −0.5 → log(1 + e^0.5)
    pc = torch.tensor([-1.0, -2.0], dtype=torch.float64)
    pr = torch.tensor([-3.0, -1.0], dtype=torch.float64)
    rc = torch.tensor([-2.0, -1.0], dtype=torch.float64)
    rr = torch.tensor([-2.0, -1.0], dtype=torch.float64)
    want = [math.log(1 + math.exp(-1)), math.log(1 + math.exp(0.5))]  # 0.3132617, 0.9740770
    per = losses.dpo(pc, pr, rc, rr, beta=0.5, reduction="none")
    torch.testing.assert_close(per, torch.tensor(want, dtype=torch.float64))
    assert float(losses.dpo(pc, pr, rc, rr, beta=0.5)) == pytest.approx(sum(want) / 2, abs=1e-12)
    assert want[0] == pytest.approx(0.3132617, abs=1e-7)


def test_setlist_hand_values_and_gradient():
    # P = [ln 2, 0, 0] → 𝒫 = [2, 1, 1]/4 = [1/2, 1/4, 1/4]             (Eq. 11)
    # ℓ = [ln 1/4, ln 1/2, ln 1/4] → 𝒬 = [1/4, 1/2, 1/4] (already sums to 1) (Eq. 13)
    # s* = argmax P = set 0 → CE = −ln(1/4) = ln 4                      (Eq. 9–10)
    # KL = ½ ln(½ / ¼) + ¼ ln(¼ / ½) + ¼ ln 1 = ½ ln 2 − ¼ ln 2 = ¼ ln 2  (Eq. 14)
    # L = ln 4 + 0.1 · ¼ ln 2 = 1.3862944 + 0.0173287 = 1.4036231      (Eq. 15)
    ell = torch.tensor([[math.log(0.25), math.log(0.5), math.log(0.25)]], dtype=torch.float64, requires_grad=True)
    P = torch.tensor([[math.log(2.0), 0.0, 0.0]], dtype=torch.float64)
    loss = losses.setlist(ell, P)
    assert float(loss.detach()) == pytest.approx(math.log(4) + 0.1 * 0.25 * math.log(2), abs=1e-12)
    assert float(loss.detach()) == pytest.approx(1.4036231, abs=1e-7)
    # dL/dℓ = −e_{s*} + λ(𝒬 − 𝒫) = [−1 + 0.1(¼ − ½), 0.1(½ − ¼), 0.1(¼ − ¼)] = [−1.025, 0.025, 0]
    loss.backward()
    torch.testing.assert_close(ell.grad, torch.tensor([[-1.025, 0.025, 0.0]], dtype=torch.float64))
    # λ = 0 leaves the CE alone
    assert float(losses.setlist(ell.detach(), P, lam=0.0)) == pytest.approx(math.log(4), abs=1e-12)


def test_setlist_ignores_padding_slots():
    # Valid slots 0,1: P = [½, −½] → 𝒫 = [σ(1), σ(−1)]; ℓ = [ln ½, ln ½] → 𝒬 = [½, ½]; s* = 0.
    # CE = ln 2; KL = Σ 𝒫_i ln(𝒫_i / ½) = ln 2 + p ln p + (1−p) ln(1−p) with p = σ(1) = e/(1+e).
    # Slot 2 holds garbage (ℓ = 999, P = 7) and must not matter.
    p = math.e / (1 + math.e)
    kl = math.log(2) + p * math.log(p) + (1 - p) * math.log(1 - p)  # 0.1109441
    ell = torch.tensor([[math.log(0.5), math.log(0.5), 999.0]], dtype=torch.float64)
    P = torch.tensor([[0.5, -0.5, 7.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    got = losses.setlist(ell, P, set_mask=mask, lam=0.1)
    assert float(got) == pytest.approx(math.log(2) + 0.1 * kl, abs=1e-12)
    assert kl == pytest.approx(0.1109441, abs=1e-7)


def test_setlist_explicit_best_and_reductions():
    # Two examples with 𝒫 = 𝒬 (KL = 0): the loss is the CE of the chosen set only.
    ell = torch.tensor([[math.log(0.75), math.log(0.25)], [math.log(0.5), math.log(0.5)]], dtype=torch.float64)
    P = torch.tensor([[math.log(3.0), 0.0], [0.0, 0.0]], dtype=torch.float64)
    per = losses.setlist(ell, P, best=torch.tensor([1, 0]), reduction="none")
    torch.testing.assert_close(per, torch.tensor([-math.log(0.25), -math.log(0.5)], dtype=torch.float64))
    assert float(losses.setlist(ell, P, best=torch.tensor([1, 0]), reduction="sum")) == pytest.approx(
        math.log(4) + math.log(2), abs=1e-12)


# --------------------------------------------------------------------- invariance


def _tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).double()


def _encoded(n_examples: int):
    """Examples of different lengths with 2 sets each (one deliberately longer target)."""
    from setsel.training.data import EncodedExample

    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n_examples):
        prompt = torch.randint(3, 40, (5 + 3 * i,), generator=g).tolist()
        targets = [torch.randint(3, 40, (2 + i % 2,), generator=g).tolist(), torch.randint(3, 40, (4,), generator=g).tolist()]
        out.append(EncodedExample(prompt, targets, P=[0.8 - 0.1 * i, -0.7], best=0, worst=1, words_per_passage=None))
    return out


def _collator(padding_side: str):
    from setsel.training.data import Collator

    tok = SimpleNamespace(pad_token_id=0, eos_token_id=1)  # collate() only needs the pad id
    return Collator(tok, padding_side=padding_side)


@pytest.mark.parametrize("loss", ["setlist", "sft"])
def test_batch4_accum1_equals_batch1_accum4(loss):
    """Sum of per-example losses / examples-per-step ⇒ identical gradients for any split."""
    from setsel.training.objective import batch_losses

    encoded = _encoded(4)
    if loss == "sft":  # one target per example
        encoded = [type(e)(e.prompt_ids, e.target_ids[:1], e.P[:1], 0, 0, None) for e in encoded]
    col = _collator("right")

    def grads(micro_batches):
        model = _tiny_model()
        for mb in micro_batches:
            per, _ = batch_losses(model, col.collate(mb), loss)
            (per.sum() / 4).backward()  # 4 = examples in the optimizer step
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    full = grads([encoded])
    split = grads([[e] for e in encoded])
    assert full.keys() == split.keys()
    for name in full:
        torch.testing.assert_close(full[name], split[name], atol=1e-6, rtol=0, msg=name)
    assert any(float(g.abs().max()) > 1e-4 for g in full.values())  # the check is not vacuous


def test_left_and_right_padding_give_the_same_losses():
    from setsel.training.objective import batch_losses

    encoded = _encoded(3)
    model = _tiny_model()
    with torch.no_grad():
        left, _ = batch_losses(model, _collator("left").collate(encoded), "setlist")
        right, _ = batch_losses(model, _collator("right").collate(encoded), "setlist")
        right_full, _ = batch_losses(model, _collator("right").collate(encoded), "setlist", logits_to_keep=False)
        alone = torch.cat([batch_losses(model, _collator("left").collate([e]), "setlist")[0] for e in encoded])
    torch.testing.assert_close(left, right, atol=1e-10, rtol=0)
    torch.testing.assert_close(right, right_full, atol=1e-10, rtol=0)
    torch.testing.assert_close(left, alone, atol=1e-10, rtol=0)


def test_pool_listwise_hand_values_and_shift_invariance():
    # negatives 0, 0 → Σ e^{s_n} = 2; gold ln 3: −log(3 / (3 + 2)) = ln(5/3); gold ln 2: −log(2 / 4) = ln 2
    logits = torch.tensor([LN3, 0.0, 0.0, math.log(2.0)], dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([1.0, 0.0, 0.0, 1.0])
    loss = losses.pool_listwise(logits, labels)
    assert float(loss) == pytest.approx((math.log(5 / 3) + math.log(2.0)) / 2)
    loss.backward()
    # gold passages are pushed up, negatives down
    assert logits.grad[0] < 0 and logits.grad[3] < 0 and logits.grad[1] > 0 and logits.grad[2] > 0
    shifted = losses.pool_listwise(logits.detach() + 7.0, labels)
    assert float(shifted) == pytest.approx(float(loss))


def test_pool_listwise_nothing_to_rank_and_bad_shapes():
    logits = torch.tensor([1.0, -2.0], requires_grad=True)
    for labels in (torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])):
        loss = losses.pool_listwise(logits, labels)
        assert float(loss) == 0.0
        loss.backward()                      # still part of the graph: no crash in the trainer
    with pytest.raises(ValueError, match="must be"):
        losses.pool_listwise(torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="must be"):
        losses.pool_listwise(torch.zeros(1, 3), torch.zeros(1, 3))
