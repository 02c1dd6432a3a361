"""Tune the ``llm_head`` selection rule on held-out training questions (``setsel train-head``).

After training, :func:`tune` reads the held-out questions' pools (each in a seeded random
order), and picks the BM25 fusion weight, the second-hop mix (for a model trained with
second-hop reads), the rule (threshold or expected F1) and its floor that maximise mean set F1;
:func:`retune` (``setsel train-head --retune FOLDER``) redoes only this for a finished model and
rewrites its ``setsel_head.json``. Never tuned on evaluation data. ``cfg`` is the run's
:class:`setsel.training.head.HeadTrainConfig` (not imported here: :mod:`setsel.training.head` imports this module).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from setsel.training.head_data import permuted

log = logging.getLogger(__name__)


def tune(model: Any, dev_q: list[Any], cfg: Any) -> dict[str, Any]:
    """The selection rule for ``model``, tuned on the held-out training questions ``dev_q`` (each
    pool in its seeded order ``"<seed>:dev:<id>"``), at most ``cfg.max_passages``, for each BM25
    fusion weight ``w`` in ``cfg.lexical_weights`` (scores ``logit + w·z(BM25 over the pool)``,
    :func:`~setsel.selection.rules.fuse_lexical`) and, for a model trained with second-hop reads
    (``cfg.pin_fraction`` > 0), each second-hop weight ``m`` in ``0`` + ``cfg.second_hop_mixes``
    (:func:`~setsel.selection.rules.second_hop_scores`), and each lexical feedback weight ``v`` in
    ``0`` + ``cfg.feedback_weights`` (:func:`~setsel.selection.lexical.feedback_scores`, applied last):

    - ``threshold``: the threshold and floor (``min_passages`` ∈ {1, 2, 3}) that maximise mean
      set F1 (:func:`~setsel.training.cross_encoder.tune_threshold_and_floor`);
    - ``expected_f1``: the calibration temperature and floor (∈ {1, 2}) that maximise it
      (:func:`~setsel.selection.rules.tune_expected_f1`).

    The ``(w, m, v, rule)`` with the highest held-out F1 wins (on a tie: the smaller ``w``, then the
    smaller ``m``, then the smaller ``v``, then ``threshold``); the winner's two rules and the best F1 of
    every ``w``, every ``m`` and every ``v`` are recorded."""
    from setsel.selection.lexical import feedback_scores, lexical_scores
    from setsel.selection.llm_head import combine_reads, second_read, top_index
    from setsel.selection.rules import fuse_lexical, tune_expected_f1
    from setsel.training.cross_encoder import tune_threshold_and_floor
    from setsel.types import Passage

    model.eval()
    pools, gold = [], []
    for c in dev_q:
        shown, labels = permuted(c, f"{cfg.seed}:dev:{c.query.id}")
        pools.append((c.query.question, shown))
        gold.append({i for i, y in enumerate(labels) if y})
    head = model.logits(pools)
    passages = [[Passage(id=str(i), title=t, text=x) for i, (t, x) in enumerate(ps)] for _, ps in pools]
    lexical = [lexical_scores(q, p) for (q, _), p in zip(pools, passages)]
    mixes = [0.0] + (sorted(set(float(m) for m in cfg.second_hop_mixes)) if cfg.pin_fraction > 0 else [])
    feedbacks = sorted(set(float(v) for v in getattr(cfg, "feedback_weights", [0.0])) | {0.0})
    reads: dict[tuple[int, int], list[float]] = {}   # (pool, known passage) -> second-read logits
    best: dict[str, Any] | None = None
    by_weight: dict[str, float] = {}
    by_mix: dict[str, float] = {}
    by_feedback: dict[str, float] = {}
    for w in sorted(set(float(x) for x in cfg.lexical_weights)):
        first = [fuse_lexical(h, lex, w) for h, lex in zip(head, lexical)]
        tops = [top_index(s) for s in first]
        if len(mixes) > 1:
            need = [i for i, t in enumerate(tops) if (i, t) not in reads]
            for i, r in zip(need, second_read(model, [pools[i] for i in need], [tops[i] for i in need])):
                reads[(i, tops[i])] = r
        for mix, v in [(m, v) for m in mixes for v in feedbacks]:
            scores = first if not mix else [combine_reads(first[i], reads[(i, t)], lexical[i], t, w, mix)
                                            for i, t in enumerate(tops)]
            if v:
                scores = [feedback_scores(sc, ps, v, model.layout.max_words) for sc, ps in zip(scores, passages)]
            threshold, floor, f1 = tune_threshold_and_floor(scores, gold, cfg.max_passages)
            temperature, e_floor, e_f1 = tune_expected_f1(scores, gold, cfg.max_passages)
            score = max(f1, e_f1)
            by_weight[str(w)] = round(max(score, by_weight.get(str(w), 0.0)), 6)
            by_mix[str(mix)] = round(max(score, by_mix.get(str(mix), 0.0)), 6)
            by_feedback[str(v)] = round(max(score, by_feedback.get(str(v), 0.0)), 6)
            if best is not None and score <= best["tuned_set_f1"] + 1e-12:
                continue
            use_ef1 = e_f1 > f1 + 1e-12
            best = {"rule": "expected_f1" if use_ef1 else "threshold", "threshold": round(threshold, 6),
                    "temperature": temperature, "min_passages": e_floor if use_ef1 else floor,
                    "lexical_weight": w, "second_hop_mix": mix, "feedback_weight": v, "tuned_on": len(dev_q),
                    "tuned_set_f1": score,
                    "tuned_rules": {"threshold": {"threshold": round(threshold, 6), "min_passages": floor,
                                                  "set_f1": round(f1, 6)},
                                    "expected_f1": {"temperature": temperature, "min_passages": e_floor,
                                                    "set_f1": round(e_f1, 6)}}}
    assert best is not None  # lexical_weights is non-empty (checked by the config)
    best["tuned_set_f1"] = round(best["tuned_set_f1"], 6)
    return {**best, "tuned_lexical_weights": by_weight, "tuned_second_hop_mixes": by_mix,
            "tuned_feedback_weights": by_feedback,
            "tuned_question_ids": [c.query.id for c in dev_q]}


def retune(folder: str | Path, cfg: Any) -> dict[str, Any]:
    """Re-tune the selection rule of a trained model ``folder`` on the held-out training questions
    of ``cfg`` (the same split as training), rewriting only ``setsel_head.json``'s rule fields."""
    from setsel.selection.head_model import META_FILE, PoolHeadModel
    from setsel.training.cross_encoder import labelled_questions, split_questions

    folder = Path(folder)
    if cfg.num_threads:
        import torch

        torch.set_num_threads(cfg.num_threads)
    model = PoolHeadModel.load(folder)
    _, dev_q = split_questions(labelled_questions(cfg), cfg.dev_fraction, cfg.seed)  # type: ignore[arg-type]
    rule = tune(model, dev_q, cfg)
    meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    if meta.get("tuned_question_ids") and meta["tuned_question_ids"] != rule["tuned_question_ids"]:
        raise ValueError(f"{folder} was tuned on other held-out questions than {cfg.data} gives now")
    meta.update(rule)
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("retuned %s: rule %s (threshold %.4f / temperature %.2f), at least %d, lexical weight %.2f, second-hop "
             "mix %.2f, feedback weight %.2f (mean set F1 %.4f on %d held-out questions)", folder, rule["rule"],
             rule["threshold"], rule["temperature"], rule["min_passages"], rule["lexical_weight"],
             rule["second_hop_mix"], rule["feedback_weight"], rule["tuned_set_f1"], len(dev_q))
    return meta
