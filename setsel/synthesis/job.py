"""The synthesis job: config, resumable sampling, and the build of training data.

Layout of ``out``::

    out/samples/part-<sha>.parquet   SampledSet records, one file per finished batch (not in gold mode)
    out/train.parquet                TrainExample records (m sets × 3 permuted copies)
    out/metadata.json                α, β, K, T, models, prompt versions, counts
    out/p_hist.png                   histogram of P over all sampled sets

Resume: a question is done iff its id is in some ``samples/part-*.parquet``; parts are
written atomically (temp file + rename) right after their batch is scored, so a killed
run loses at most the batches in flight and a rerun skips every finished id — nothing is
lost and nothing is written twice. The sampling itself runs in-process
(:func:`run_local`) or on Ray Data actors (:mod:`setsel.distributed.synthesize`, passed in
as ``sampler`` by the entry layer: :func:`setsel.distributed.stages.run_synthesis`).

Modes: ``optiset`` (Algorithm 1: K sampled sets scored by the generator's perplexity),
``teacher`` (SetR §3.3.1: a teacher model's IRI output is the target) and ``gold`` (SetR
distillation with the benchmark's gold paragraphs as teacher, :mod:`setsel.synthesis.gold`:
no model runs, ``permutations`` shuffled copies per question).

Evaluation questions never train: every question whose normalised text
(:func:`~setsel.synthesis.gold.normalise_question`) occurs in a dataset listed under
``exclude_eval`` is refused before anything runs, and counted in ``metadata.json``
(``refused_eval``).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from setsel.config import ConfigError, RayConfig
from setsel.synthesis.esr import ESRConfig
from setsel.types import Candidates, SampledSet


@dataclass
class DatasetSpec:
    name: str
    path: str | None = None
    qa: str | None = None
    limit: int | None = None


@dataclass
class SynthesisConfig:
    """``python -m jobs.synthesize --config configs/synthesize.yaml [--set a.b=v]``."""

    out: str = "runs/synthesis"
    datasets: list[DatasetSpec] = field(default_factory=lambda: [DatasetSpec(name="demo")])
    mode: Literal["optiset", "teacher", "gold"] = "optiset"   # Algorithm 1 | SetR teacher labels | gold labels
    selector: str = "hf:smollm2-135m"          # expands / selects / refines (optiset)
    generator: str | None = None               # perplexity utility; None = the selector model
    teacher: str | None = None                 # teacher mode: an OpenAI-compatible model id
    engine_options: dict[str, Any] = field(default_factory=dict)
    esr: ESRConfig = field(default_factory=ESRConfig)
    exclude_eval: list[DatasetSpec] = field(default_factory=list)  # evaluation sets: their questions are refused
    permutations: int = 4                      # gold mode: shuffled copies per question
    gold_reasoning: Literal["none", "titles", "judgements"] = "none"   # gold mode: reasoning before the selection (gold.py)
    m: int = 5
    copies: int = 3
    min_spread: float = 0.1
    batch_size: int = 4
    ray: RayConfig = field(default_factory=lambda: RayConfig(enabled=True))  # K-sample synthesis on Ray actors


def source_label(spec: DatasetSpec) -> str:
    """``name/folder`` of a dataset spec, e.g. ``openret/2wiki`` (the prefix of renamed ids)."""
    return f"{spec.name}/{Path(spec.path).stem}" if spec.path else spec.name


def load_questions(cfg: SynthesisConfig, sources: dict[str, str] | None = None) -> list[Candidates]:
    """Every usable question of ``cfg.datasets`` (a pool and a gold answer), ids unique.

    ``sources``, when given, is filled with each kept question's id → its dataset's
    :func:`source_label` (``llm_head`` training oversamples by dataset).

    Ids are the datasets' own. Some loaders number questions by row (the openret pools:
    ``"0"``, ``"1"``, …), so two datasets can share an id: a question whose id an *earlier,
    different dataset* already used gets ``"<source>:<id>"`` (:func:`source_label`) and is
    kept (before 2026-11-30 such questions were silently dropped). A repeated id from the
    same dataset (or the same file listed twice) is a duplicate and is skipped.
    """
    import dataclasses

    from setsel.datasets import load_dataset

    out: list[Candidates] = []
    owner: dict[str, str] = {}   # id -> source label of the dataset that used it first
    for spec in cfg.datasets:
        label = source_label(spec)
        for c in load_dataset(spec.name, spec.path, qa_path=spec.qa, limit=spec.limit):
            if not c.passages or not c.query.answers:
                continue
            qid = c.query.id
            if qid in owner and owner[qid] != label:
                qid = f"{label}:{qid}"
                c = dataclasses.replace(c, query=dataclasses.replace(c.query, id=qid))
            if qid in owner:   # the same question again (same dataset, or listed twice)
                continue
            owner[qid] = label
            out.append(c)
    if sources is not None:
        sources.update(owner)
    return out


QUESTION_FIELDS = ("question", "question_text", "Question", "query")


def evaluation_questions(specs: list[DatasetSpec]) -> set[str]:
    """Normalised question texts of every evaluation dataset in ``specs``.

    Two readings, unioned: the loader's questions, and the raw question field of every row of
    the file (or of every ``*.jsonl`` in an openret folder) — loaders skip rows they cannot
    select over (e.g. the 19 2Wiki dev rows without a pool), and those are evaluation
    questions too.
    """
    from setsel.datasets import dataset_path, load_dataset
    from setsel.datasets.common import iter_jsonl
    from setsel.synthesis.gold import normalise_question

    texts: set[str] = set()
    for spec in specs:
        texts |= {normalise_question(c.query.question) for c in load_dataset(spec.name, spec.path, qa_path=spec.qa)}
        path = dataset_path(spec.name, spec.path)
        files = [] if path is None else sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for file in files:
            for _, row in iter_jsonl(file):
                texts |= {normalise_question(row[k]) for k in QUESTION_FIELDS if isinstance(row.get(k), str)}
    return texts


def training_questions(cfg: SynthesisConfig, sources: dict[str, str] | None = None
                       ) -> tuple[list[Candidates], list[str]]:
    """:func:`load_questions` minus every question that occurs in ``cfg.exclude_eval``.

    Returns ``(kept, refused_ids)``; ``sources`` as in :func:`load_questions`.
    """
    from setsel.synthesis.gold import exclude_questions

    questions = load_questions(cfg, sources)
    if not cfg.exclude_eval:
        return questions, []
    return exclude_questions(questions, evaluation_questions(cfg.exclude_eval))


def samples_dir(out: str | Path) -> Path:
    path = Path(out) / "samples"
    path.mkdir(parents=True, exist_ok=True)
    return path


def finished_ids(out: str | Path) -> set[str]:
    from setsel.io import iter_records

    done: set[str] = set()
    for part in sorted(samples_dir(out).glob("part-*.parquet")):
        done.update(s.query_id for s in iter_records(part, SampledSet))
    return done


def write_part(out: str | Path, sets: list[SampledSet], qids: list[str]) -> Path | None:
    """Atomically write one batch's sets; the name derives from its question ids."""
    from setsel.io import write_records

    if not sets:
        return None
    name = hashlib.sha256("\x00".join(sorted(qids)).encode()).hexdigest()[:16]
    return write_records(samples_dir(out) / f"part-{name}.parquet", sets)


def read_all_samples(out: str | Path) -> list[SampledSet]:
    from setsel.io import iter_records

    sets: list[SampledSet] = []
    seen: set[tuple[str, int]] = set()
    for part in sorted(samples_dir(out).glob("part-*.parquet")):
        for s in iter_records(part, SampledSet):
            if (s.query_id, s.sample) not in seen:
                seen.add((s.query_id, s.sample))
                sets.append(s)
    return sets


def make_engines(cfg: SynthesisConfig):
    from setsel.engines import load_engine

    selector = load_engine(cfg.selector, **cfg.engine_options)
    generator = selector if not cfg.generator or cfg.generator == cfg.selector else load_engine(
        cfg.generator, **cfg.engine_options)
    return selector, generator


def process_batch(cfg: SynthesisConfig, batch: list[Candidates], selector: Any, generator: Any) -> list[int]:
    """Sample, score and write one batch; returns the number of sets written per question."""
    if cfg.mode == "teacher":
        from setsel.synthesis.teacher import label_batch

        sets = label_batch(batch, selector)
    else:
        from setsel.synthesis.esr import sample_sets

        sets = sample_sets(batch, selector, generator, cfg.esr)
    write_part(cfg.out, sets, [c.query.id for c in batch])
    per_question: dict[str, int] = {}
    for s in sets:
        per_question[s.query_id] = per_question.get(s.query_id, 0) + 1
    return [per_question.get(c.query.id, 0) for c in batch]


def run_local(cfg: SynthesisConfig, pending: list[Candidates], progress: bool = True) -> int:
    from tqdm import tqdm

    if not pending:
        return 0
    selector, generator = make_engines(cfg)
    written = 0
    with tqdm(total=len(pending), desc="synthesis", unit="q", disable=not progress) as bar:
        for start in range(0, len(pending), cfg.batch_size):
            batch = pending[start : start + cfg.batch_size]
            written += sum(process_batch(cfg, batch, selector, generator))
            bar.update(len(batch))
    return written


Sampler = Callable[[SynthesisConfig, list[Candidates]], int]
"""``(cfg, pending) -> sets written``: samples and writes every pending question's part files."""


def run(cfg: SynthesisConfig, progress: bool = True, sampler: Sampler | None = None) -> dict[str, Any]:
    """Sample every pending question (resuming), then build the training data.

    ``sampler``: how pending questions are sampled; ``None`` = :func:`run_local`. With
    ``cfg.ray.enabled`` the entry layer passes the Ray Data sampler
    (:func:`setsel.distributed.stages.run_synthesis`); without one this refuses rather than
    silently sampling in this process."""
    t0 = time.perf_counter()
    questions, refused = training_questions(cfg)
    if cfg.mode == "gold":
        summary = build_gold(cfg, questions)
        summary.update(refused_eval=len(refused), refused_eval_ids=refused, wall_s=round(time.perf_counter() - t0, 1))
        (Path(cfg.out) / "metadata.json").write_text(json.dumps(summary, indent=2))
        return summary
    if cfg.ray.enabled and sampler is None:
        raise ConfigError("ray.enabled is set but no Ray sampler was given: run through "
                          "setsel.distributed.stages.run_synthesis (as `setsel synthesize` and jobs.synthesize do), "
                          "or set ray.enabled=false")
    done = finished_ids(cfg.out)
    pending = [c for c in questions if c.query.id not in done]
    if pending:
        if sampler is None:
            run_local(cfg, pending, progress=progress)
        else:
            sampler(cfg, pending)
    summary = build(cfg, questions)
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    summary["resumed_skipped"] = len(done)
    summary.update(refused_eval=len(refused), refused_eval_ids=refused)
    (Path(cfg.out) / "metadata.json").write_text(json.dumps(summary, indent=2))
    return summary


def build_gold(cfg: SynthesisConfig, questions: list[Candidates]) -> dict[str, Any]:
    """Gold mode: write ``train.parquet`` straight from the labels (no model, nothing to resume)."""
    from dataclasses import asdict

    from setsel.config import config_to_dict
    from setsel.io import write_records
    from setsel.synthesis.gold import gold_examples

    examples, report = gold_examples(questions, permutations=cfg.permutations, seed=cfg.esr.seed, max_sets=cfg.m,
                                     reasoning=cfg.gold_reasoning)
    meta: dict[str, Any] = {"config": config_to_dict(cfg), "n_questions_input": len(questions), **asdict(report)}
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    if examples:
        write_records(Path(cfg.out) / "train.parquet", examples,
                      extra_metadata={k: v for k, v in meta.items() if k != "config"})
    return meta


def build(cfg: SynthesisConfig, questions: list[Candidates]) -> dict[str, Any]:
    from dataclasses import asdict

    from setsel.config import config_to_dict
    from setsel.io import write_records
    from setsel.prompts import get_template
    from setsel.synthesis.build import build_examples

    sampled = read_all_samples(cfg.out)
    meta: dict[str, Any] = {
        "config": config_to_dict(cfg),
        "prompt_versions": [get_template(n).id for n in ("optiset_expand", "optiset_select", "optiset_refine",
                                                         "answer", "setr_iri")],
        "n_questions_input": len(questions),
        "n_questions_sampled": len({s.query_id for s in sampled}),
    }
    if cfg.mode == "teacher":
        from setsel.synthesis.teacher import build_teacher_examples

        examples = build_teacher_examples(sampled, questions)
        meta.update(n_examples=len(examples))
    else:
        examples, report = build_examples(sampled, questions, m=cfg.m, copies=cfg.copies,
                                          min_spread=cfg.min_spread, seed=cfg.esr.seed)
        rep = asdict(report)
        P = rep.pop("P_values")
        meta.update(rep, n_examples=len(examples), K=cfg.esr.k, T=cfg.esr.temperature,
                    selector=cfg.selector, generator=cfg.generator or cfg.selector)
        _plot_p(P, Path(cfg.out) / "p_hist.png", report.alpha, report.beta)
    if examples:
        write_records(Path(cfg.out) / "train.parquet", examples,
                      extra_metadata={k: v for k, v in meta.items() if k != "config"})
    return meta


def _plot_p(P: list[float], path: Path, alpha: float, beta: float) -> None:
    if not P:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(P, bins=40, range=(-1, 1), color="#4477aa")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("P (OptiSet Eq. 8)")
    ax.set_ylabel("sampled sets")
    ax.set_title(f"Preference of sampled sets (α={alpha:.2f}, β={beta:.2f}, n={len(P)})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
