"""A topk evaluation loads no model stack; BERTScore novelty says clearly when it cannot run."""

import json
import subprocess
import sys

import pytest

HEAVY = ["torch", "ray", "transformers", "vllm", "faiss", "sentence_transformers"]


def test_topk_eval_imports_nothing_heavy(tmp_path):
    code = (
        "import sys, json\n"
        "from setsel.evaluation.job import EvalJobConfig, run_eval\n"
        f"run_eval(EvalJobConfig(dataset='demo', k=3, out={str(tmp_path / 'o')!r}, progress=False))\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["n_queries"] == 12


def test_bertscore_novelty_needs_its_package():
    from setsel.evaluation.bertscore import bertscore_available, bertscore_similarity

    if bertscore_available():
        pytest.skip("bert_score is installed here")
    with pytest.raises(ImportError, match="needs the 'bert_score' package"):
        bertscore_similarity()
