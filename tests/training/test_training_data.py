"""TrainExample I/O and collation with SmolLM2's real tokenizer and chat template."""

from __future__ import annotations

import pytest
import torch

from setsel.io import write_records
from setsel.training.data import Collator, TrainExample, read_examples, select_examples, selection_target, usable
from setsel.types import Passage, SchemaError


def _example(**kw):
    base = dict(query_id="q1", question="Who directed the film that starred Ann?",
                passages=[Passage(id=f"p{i}", title=f"T{i}", text=f"word{i} " * 40) for i in range(1, 6)],
                sets=[[2, 4], [1], [3, 5]], P=[0.9, -0.6, 0.7])
    base.update(kw)
    return TrainExample(**base)


def test_selection_target_format():
    assert selection_target([2, 1]) == "### Final Selection: [2] [1]"
    with pytest.raises(ValueError):
        selection_target([])


def test_example_validation_and_best_worst():
    ex = _example()
    assert ex.best_index == 0 and ex.worst_index == 1
    with pytest.raises(SchemaError, match="ids in 1..5"):
        _example(sets=[[6]], P=[0.5])
    with pytest.raises(SchemaError, match="P values"):
        _example(P=[0.1])


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_examples_roundtrip(tmp_path, suffix):
    examples = [_example(), _example(query_id="q2", teacher_output="Step 1 ...\n### Final Selection: [1]")]
    path = write_records(tmp_path / f"train.{suffix}", examples)
    assert read_examples(path) == examples


def test_usable_reasons():
    assert usable(_example(), "all", "selection") is None
    assert usable(_example(P=[]), "all", "selection") == "no P values"
    assert usable(_example(sets=[[1]], P=[0.9]), "best_worst", "selection") == "needs two sets with different P"
    assert usable(_example(), "best", "teacher") == "no teacher_output"


def test_select_examples_keeps_usable_copies_in_file_order():
    rows = [_example(query_id=f"q{q}@{c}", metadata={"copy": c}) for q in (1, 2) for c in range(3)]
    rows.insert(1, _example(query_id="q9@0", sets=[[1]], P=[0.9], metadata={"copy": 0}))  # one set: no DPO pair
    rows.append(_example(query_id="q3"))  # no copy number: copy 0
    ids = lambda xs: [e.query_id for e in xs]  # noqa: E731
    assert ids(select_examples(rows, "all", "selection", max_copies=1)) == ["q1@0", "q9@0", "q2@0", "q3"]
    assert ids(select_examples(rows, "best_worst", "selection", max_copies=2)) == ["q1@0", "q1@1", "q2@0", "q2@1", "q3"]
    assert ids(select_examples(rows, "all", "selection", limit=2)) == ["q1@0", "q9@0"]
    assert len(select_examples(rows, "all", "selection")) == len(rows)


def test_collate_stacks_all_sets_with_target_only_masks(smol_tokenizer):
    tok = smol_tokenizer
    ex1, ex2 = _example(), _example(query_id="q2", sets=[[5], [1, 2]], P=[-0.7, 0.8])
    batch = Collator(tok, max_length=1024, sets="all", padding_side="left")([ex1, ex2])
    assert batch["input_ids"].shape[0] == 5  # 3 + 2 sequences in one forward pass
    assert batch["example_index"].tolist() == [0, 0, 0, 1, 1]
    assert batch["set_slot"].tolist() == [0, 1, 2, 0, 1]
    assert batch["set_mask"].tolist() == [[True, True, True], [True, True, False]]
    torch.testing.assert_close(batch["P"], torch.tensor([[0.9, -0.6, 0.7], [-0.7, 0.8, 0.0]]))
    assert batch["best"].tolist() == [0, 1] and batch["worst"].tolist() == [1, 0]
    targets = [tok.decode(batch["input_ids"][r][batch["target_mask"][r]]) for r in range(5)]
    assert targets == [f"### Final Selection: {s}<|im_end|>\n" for s in ["[2] [4]", "[1]", "[3] [5]", "[5]", "[1] [2]"]]
    prompt = tok.decode(batch["input_ids"][0][batch["attention_mask"][0].bool() & ~batch["target_mask"][0]])
    assert "Select the passages based on their relevance to the search query: Who directed" in prompt
    assert "Output only the required format." in prompt  # Table 9's last line
    assert "[5] Title: T5 Content: word5" in prompt
    assert prompt.rstrip().endswith("<|im_start|>assistant")
    # left padding: every row ends with its target; position ids restart at each row's first token
    assert bool(batch["target_mask"][:, -1].all())
    for r in range(5):
        n = int(batch["attention_mask"][r].sum())
        assert batch["position_ids"][r, -n:].tolist() == list(range(n))


def test_right_padding_and_sft_dpo_set_choices(smol_tokenizer):
    ex = _example()
    right = Collator(smol_tokenizer, max_length=1024, sets="best", padding_side="right")([ex, _example(query_id="q3")])
    assert right["input_ids"].shape[0] == 2 and right["set_mask"].shape == (2, 1)
    assert bool(right["attention_mask"][:, 0].all())  # right padding: all rows start at column 0
    dec = smol_tokenizer.decode(right["input_ids"][0][right["target_mask"][0]])
    assert dec.startswith("### Final Selection: [2] [4]")  # s* = argmax P
    dpo = Collator(smol_tokenizer, max_length=1024, sets="best_worst")([ex])
    decoded = [smol_tokenizer.decode(dpo["input_ids"][r][dpo["target_mask"][r]]) for r in range(2)]
    assert decoded[0].startswith("### Final Selection: [2] [4]") and decoded[1].startswith("### Final Selection: [1]")
    assert dpo["best"].tolist() == [0] and dpo["worst"].tolist() == [1]


def test_teacher_target(smol_tokenizer):
    teacher = "Step 1. The query needs the director.\n### Final Selection: [2] [4]"
    batch = Collator(smol_tokenizer, template="setr_iri", target="teacher")([_example(teacher_output=teacher)])
    assert batch["input_ids"].shape[0] == 1
    assert smol_tokenizer.decode(batch["input_ids"][0][batch["target_mask"][0]]) == teacher + "<|im_end|>\n"


def test_truncation_shrinks_passages_never_the_target(smol_tokenizer, gold_examples):
    ex = gold_examples[0]
    roomy = Collator(smol_tokenizer, max_length=4096, max_words=300).encode(ex)
    tight = Collator(smol_tokenizer, max_length=400, max_words=300).encode(ex)
    assert roomy.words_per_passage == 300 and tight.words_per_passage < 300
    assert tight.target_ids == roomy.target_ids  # targets intact
    assert len(tight.prompt_ids) + max(len(t) for t in tight.target_ids) <= 400
    assert len(tight.prompt_ids) < len(roomy.prompt_ids)
    with pytest.raises(ValueError, match="no room"):
        Collator(smol_tokenizer, max_length=20).encode(ex)


def test_gold_examples_are_well_formed(gold_examples):
    assert len(gold_examples) == 16
    for ex in gold_examples:
        assert len(ex.passages) == 10 and ex.best_index == 0 and ex.worst_index == 3
        gold_titles = {ex.passages[i - 1].title for i in ex.sets[0]}
        assert len(gold_titles) >= 2
        assert sorted(ex.permutation) == list(range(10))
