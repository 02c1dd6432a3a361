"""Hand-computed expectations for every metric in setsel.evaluation.metrics."""

import math

import pytest

from setsel.evaluation import metrics as M


def test_normalize_answer_squad_rules():
    assert M.normalize_answer("The  Beatles' \"Abbey Road\"!") == "beatles abbey road"
    assert M.normalize_answer("An apple, a pear and THE plum.") == "apple pear and plum"
    # articles only as whole words: "Theresa" and "anthem" keep their letters
    assert M.normalize_answer("Theresa's anthem") == "theresas anthem"
    assert M.normalize_answer("  \t\n") == ""


def test_exact_match_is_non_strict_token_containment():
    assert M.exact_match("It was The Beatles, in 1969.", ["the beatles"]) == 1.0
    assert M.exact_match("Paris", ["paris", "France"]) == 1.0
    assert M.exact_match("The capital is Lyon", ["Paris"]) == 0.0
    # "no" must not match inside "north"; a whole-token "no" does
    assert M.exact_match("north", ["no"]) == 0.0
    assert M.exact_match("No, it is not.", ["no"]) == 1.0
    assert M.exact_match("anything", [""]) == 0.0
    assert M.exact_match("x", []) == 0.0
    assert M.exact_match("Terry Richardson", "Terry Richardson") == 1.0


def test_token_f1_hand_computed():
    # pred tokens [red, fox] (article dropped), gold [red, dog]: common 1 → P=R=1/2, F1=1/2
    assert M.token_f1("the red fox", ["red dog"]) == pytest.approx(0.5)
    # pred [a1 b c d] vs gold [b c]: common 2 → P=2/4, R=2/2 → F1 = 2*.5*1/1.5 = 2/3
    assert M.token_f1("x b c d", ["b c"]) == pytest.approx(2 / 3)
    # max over golds
    assert M.token_f1("b c", ["z", "b c"]) == 1.0
    # repeated tokens count with multiplicity: pred [a a], gold [a]: common 1 → P=1/2, R=1 → 2/3
    assert M.token_f1("a1 a1", ["a1"]) == pytest.approx(2 / 3)
    assert M.token_f1("", [""]) == 1.0 and M.token_f1("x", [""]) == 0.0 and M.token_f1("x", []) == 0.0


def test_multihop_rag_accuracy_is_substring_containment():
    assert M.answer_accuracy("Yes, both reports agree.", ["Yes"]) == 1.0
    assert M.answer_accuracy("Insufficient information", ["Insufficient information."]) == 1.0
    assert M.answer_accuracy("Googles", ["Google"]) == 1.0   # substring, unlike EM
    assert M.exact_match("Googles", ["Google"]) == 0.0
    assert M.answer_accuracy("No", ["Yes"]) == 0.0
    assert M.answer_accuracy("anything", [""]) == 0.0


def test_mrr_and_hit():
    assert M.mrr_at_k(["a", "b", "c"], {"c"}) == pytest.approx(1 / 3)
    assert M.mrr_at_k(["a", "b", "c"], {"b", "c"}) == 0.5
    assert M.mrr_at_k(["a", "b", "c"], {"c"}, k=2) == 0.0
    assert M.mrr_at_k([], {"a"}) == 0.0
    assert M.hit_at_k(["a", "b", "c"], {"c"}, 2) == 0.0
    assert M.hit_at_k(["a", "b", "c"], {"c"}, 3) == 1.0
    with pytest.raises(ValueError):
        M.hit_at_k(["a"], {"a"}, 0)


def test_ndcg_binary_hand_computed():
    # gold {b, d}; ranked [a, b, c, d]: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert M.ndcg_at_k(["a", "b", "c", "d"], {"b", "d"}) == pytest.approx(expected)
    assert M.ndcg_at_k(["b", "d", "a"], {"b", "d"}) == pytest.approx(1.0)
    # k cuts both the ranking and the ideal: k=1, ranked [a, b] → 0; [b] → 1
    assert M.ndcg_at_k(["a", "b"], {"b", "d"}, k=1) == 0.0
    assert M.ndcg_at_k(["b", "a"], {"b", "d"}, k=1) == 1.0
    # a repeated gold id counts once
    assert M.ndcg_at_k(["b", "b"], {"b", "d"}) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    with pytest.raises(ValueError):
        M.ndcg_at_k(["a"], set())


def test_set_precision_recall_f1():
    # selected {a, b, c}, gold {b, c, d, e}: hits 2 → P 2/3, R 2/4, F1 = 2*(2/3)(1/2)/(7/6) = 4/7
    p, r, f = M.set_prf(["a", "b", "c"], {"b", "c", "d", "e"})
    assert (p, r) == (pytest.approx(2 / 3), 0.5) and f == pytest.approx(4 / 7)
    assert M.set_prf(["b", "b"], {"b"}) == (1.0, 1.0, 1.0)  # duplicates ignored
    assert M.set_prf([], {"b"}) == (0.0, 0.0, 0.0)
    assert M.set_prf(["x"], {"b"}) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        M.set_prf(["a"], [])


def test_coverage_dedupes_and_matches_normalised_tokens():
    passages = ["Annie Morton (born October 8, 1970) is an American model.", "Terry Richardson is a photographer."]
    evidence = ["annie morton born october 8 1970", "Annie Morton (born October 8, 1970)", "born 1971",
                "Terry Richardson"]
    # distinct normalised spans: 3 ("annie morton born october 8 1970", "born 1971", "terry richardson"); found 2
    assert M.coverage(evidence, passages) == pytest.approx(2 / 3)
    assert M.coverage(["model"], ["supermodels"]) == 0.0  # token boundary
    assert M.coverage([], passages) is None
    assert M.coverage(["x y"], []) == 0.0


def test_jaccard_and_novelty():
    # {the cat sat} → normalised tokens {cat, sat}; {cat, ran}: |∩|=1, |∪|=3
    assert M.jaccard("The cat sat", "cat ran") == pytest.approx(1 / 3)
    assert M.jaccard("", "") == 1.0 and M.jaccard("a1", "") == 0.0
    texts = ["x y", "x y z w", "q r"]
    # g1=1; g2 = 1 - J({x,y},{x,y,z,w}) = 1 - 2/4 = 0.5; g3 = 1 - max(0, 0) = 1
    assert M.novelty(texts) == [1.0, 0.5, 1.0]
    assert M.novel_at(texts) == pytest.approx(2.5 / 3)
    assert M.novel_at(texts, 2) == pytest.approx(0.75)
    assert M.novel_at(texts, 3) == pytest.approx(2.5 / 3)
    assert M.novel_at(texts[:1], 3) == 1.0
    assert M.novel_at([]) is None
    # any similarity function plugs in (e.g. BERTScore-F1)
    assert M.novelty(["a1", "b1", "c1"], sim=lambda a, b: 0.25) == [1.0, 0.75, 0.75]


def test_mean_skips_none():
    assert M.mean([1.0, None, 0.0]) == 0.5
    assert M.mean([None]) is None and M.mean([]) is None


def test_metrics_module_is_stdlib_only():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(M.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= {"__future__", "math", "re", "string", "collections"}
