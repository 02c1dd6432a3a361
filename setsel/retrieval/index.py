"""Index directories: build, verify, load and search (BM25, dense, or hybrid by RRF).

Layout of an index directory::

    manifest.json        retriever, encoder (id, dim, prefixes), count, factory, files + sha256
    build.json           the build plan (corpus fingerprint, settings): a rerun resumes only the same build
    passages.parquet     id, title, text — rows are what the indexes return
    bm25/                bm25s files + bm25.json                      (bm25, hybrid)
    dense/index.faiss    FAISS inner-product index                    (dense, hybrid)
    dense/shards/        embedding shards while building (kept: a rebuild with another factory reuses them)

``manifest.json`` is written last: a directory without it is an unfinished build. Loading
checks every file against its checksum (``verify=False`` skips hashing for huge indexes)
and refuses an encoder other than the one the index was built with.

Example:
    >>> build_index("corpus.jsonl", "idx", retriever="hybrid")            # doctest: +SKIP
    >>> load_index("idx").search(["Who wrote Hamlet?"], k=20)[0].ids[:3]   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from setsel.retrieval.bm25 import BM25Index, BM25Params
from setsel.retrieval.corpus import iter_passages, write_passages
from setsel.retrieval.fusion import rrf
from setsel.retrieval.shards import encode_missing, load_shards, passage_text, plan_shards
from setsel.types import Candidates, Passage, Query

FORMAT_VERSION = 1
RETRIEVERS = ("bm25", "dense", "hybrid")


class IndexLoadError(RuntimeError):
    """Not an index, an unfinished or corrupt one, an unknown format, or the wrong encoder."""


@dataclass
class IndexSettings:
    """How to build an index (the fields of ``configs/index.yaml`` besides corpus/out)."""

    retriever: str = "hybrid"
    encoder: str = "minilm"
    encoder_path: str | None = None
    encode_batch_size: int = 64
    factory: str = "Flat"
    gpu: str = "auto"
    shard_size: int = 4096
    bm25: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retriever not in RETRIEVERS:
            raise ValueError(f"retriever must be one of {RETRIEVERS}, got {self.retriever!r}")
        if self.shard_size < 1 or self.encode_batch_size < 1:
            raise ValueError("shard_size and encode_batch_size must be ≥ 1")
        BM25Params(**self.bm25)  # unknown keys / bad values fail now

    @property
    def dense(self) -> bool:
        return self.retriever in ("dense", "hybrid")

    @property
    def sparse(self) -> bool:
        return self.retriever in ("bm25", "hybrid")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fingerprint(corpus: Path) -> dict[str, Any]:
    st = corpus.stat()
    return {"path": str(corpus.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def build_index(corpus: str | Path, out: str | Path, settings: IndexSettings | None = None,
                shard_runner: Callable[..., Any] | None = None, overwrite: bool = False,
                progress: bool = True, **kwargs: Any) -> dict[str, Any]:
    """Build (or resume building) an index of ``corpus`` in ``out``; returns the manifest.

    Args:
        corpus: JSONL/Parquet passages (:mod:`setsel.retrieval.corpus`).
        out: the index directory.
        settings: :class:`IndexSettings`, or pass its fields as keyword arguments.
        shard_runner: ``f(passages_path, plan, shard_dir, settings)`` that encodes the missing
            shards (the Ray Data runner in :mod:`setsel.distributed.index`); default: in-process.
        overwrite: delete an existing different build in ``out`` instead of refusing.
    Raises:
        IndexLoadError: ``out`` holds a different build (without ``overwrite``).
        CorpusError / FileNotFoundError: a bad or missing corpus.
    """
    settings = settings or IndexSettings(**kwargs)
    corpus, out = Path(corpus), Path(out)
    if not corpus.exists():
        raise FileNotFoundError(f"{corpus}: no such corpus file")
    plan_record = {"format_version": FORMAT_VERSION, "corpus": _fingerprint(corpus), "settings": asdict(settings)}
    build_file = out / "build.json"
    if out.exists() and any(out.iterdir()):
        previous = json.loads(build_file.read_text()) if build_file.exists() else None
        if previous != plan_record:
            if not overwrite:
                raise IndexLoadError(f"{out} holds another index or build; choose a new directory or pass overwrite")
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    build_file.write_text(json.dumps(plan_record, indent=1))
    (out / "manifest.json").unlink(missing_ok=True)
    timings: dict[str, float] = {}

    passages_path = out / "passages.parquet"
    stats_file = out / "corpus_stats.json"
    t0 = time.perf_counter()
    if not (passages_path.exists() and stats_file.exists()):
        stats: dict[str, int] = {}
        n = write_passages(iter_passages(corpus, stats), passages_path)
        stats["count"] = n
        stats_file.write_text(json.dumps(stats))
    stats = json.loads(stats_file.read_text())
    n = stats["count"]
    timings["passages_s"] = time.perf_counter() - t0
    if n == 0:
        raise IndexLoadError(f"{corpus}: no non-empty passages to index ({stats.get('skipped_empty', 0)} empty)")

    manifest: dict[str, Any] = {"format_version": FORMAT_VERSION, "retriever": settings.retriever, "count": n,
                                "skipped_empty": stats.get("skipped_empty", 0), "corpus": plan_record["corpus"]}
    if settings.sparse:
        t0 = time.perf_counter()
        texts = [passage_text(p.title, p.text) for p in _all_passages(passages_path)]
        bm = BM25Index.build(texts, BM25Params(**settings.bm25), show_progress=progress)
        bm.save(out / "bm25")
        manifest["bm25"] = asdict(bm.params)
        timings["bm25_s"] = time.perf_counter() - t0
    if settings.dense:
        from setsel.retrieval.dense import build_faiss, resolve_factory, save_faiss
        from setsel.retrieval.encoders import load_encoder

        t0 = time.perf_counter()
        plan = plan_shards(n, settings.shard_size)
        shard_dir = out / "dense" / "shards"
        if shard_runner is None:
            encoder = load_encoder(settings.encoder, settings.encoder_path, batch_size=settings.encode_batch_size)
            encode_missing(encoder, passages_path, plan, shard_dir, progress=progress)
            spec, encoder_id = encoder.spec, encoder.id
        else:
            from setsel.retrieval.encoders import resolve_spec

            shard_runner(passages_path, plan, shard_dir, settings)
            spec = resolve_spec(settings.encoder, settings.encoder_path)
            encoder_id = f"{spec.name}:{spec.model}"
        timings["embed_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        vectors = load_shards(shard_dir, plan)
        factory = resolve_factory(settings.factory, n)
        index = build_faiss(list(vectors), factory, settings.gpu)
        save_faiss(index, out / "dense" / "index.faiss")
        manifest["encoder"] = {**spec.to_dict(), "id": encoder_id, "dim": int(index.d)}
        manifest["factory"] = factory
        timings["faiss_s"] = time.perf_counter() - t0
    files = [passages_path] + sorted((out / "bm25").glob("*")) + ([out / "dense" / "index.faiss"] if settings.dense else [])
    manifest["files"] = {str(p.relative_to(out)): _sha256(p) for p in files if p.is_file()}
    manifest["timings"] = timings
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(out / "manifest.json")
    return manifest


def _all_passages(path: Path) -> list[Passage]:
    from setsel.retrieval.corpus import read_passages

    return read_passages(path)


class Index:
    """A loaded index. ``search(questions, k)`` → one :class:`Candidates` per question."""

    def __init__(self, path: Path, manifest: dict[str, Any], bm25: BM25Index | None, faiss_index: Any,
                 encoder: Any, gpu: str = "auto") -> None:
        import pyarrow.parquet as pq

        self.path, self.manifest = path, manifest
        self.retriever = manifest["retriever"]
        self.bm25, self.faiss_index, self.encoder = bm25, faiss_index, encoder
        self.table = pq.read_table(path / "passages.parquet", memory_map=True)
        self._gpu_index = None
        if faiss_index is not None:
            from setsel.retrieval.dense import to_gpu

            self._gpu_index = to_gpu(faiss_index, gpu)

    def __len__(self) -> int:
        return int(self.manifest["count"])

    def passages(self, rows: list[int]) -> list[Passage]:
        part = self.table.take(rows).to_pydict() if rows else {"id": [], "title": [], "text": []}
        return [Passage(id=i, title=t, text=x) for i, t, x in zip(part["id"], part["title"], part["text"])]

    def search_rows(self, questions: list[str], k: int, fusion_depth: int | None = None,
                    rrf_k: int = 60, nprobe: int = 32, retriever: str | None = None,
                    ) -> list[tuple[list[int], list[float]]]:
        """Top-``k`` ``(rows, scores)`` per question: BM25 scores, inner products, or RRF scores.

        ``retriever`` searches one part of a hybrid index (``bm25`` or ``dense``) instead of both.
        """
        mode = retriever or self.retriever
        if mode not in self.parts:
            raise ValueError(f"this {self.retriever} index cannot search with {mode!r} (it has {self.parts})")
        if mode == "bm25":
            return self.bm25.search(questions, k)
        from setsel.retrieval.dense import search_faiss

        depth = k if mode == "dense" else max(fusion_depth or 0, 2 * k, 100)
        qvecs = self.encoder.encode(questions, kind="query")
        dense = search_faiss(self.faiss_index, qvecs, depth, nprobe=nprobe, gpu_index=self._gpu_index)
        if mode == "dense":
            return dense
        sparse = self.bm25.search(questions, depth)
        out = []
        for (d_rows, _), (s_rows, _) in zip(dense, sparse):
            fused = rrf([d_rows, s_rows], k=rrf_k, limit=k)
            out.append(([int(r) for r, _ in fused], [float(s) for _, s in fused]))
        return out

    @property
    def parts(self) -> tuple[str, ...]:
        """The retrievers this index can search with."""
        return ("bm25", "dense", "hybrid") if self.retriever == "hybrid" else (self.retriever,)

    def search(self, questions: list[str | Query], k: int = 20, **kwargs: Any) -> list[Candidates]:
        """Retrieve ``k`` passages for each question (a string or a :class:`Query` with labels)."""
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        queries = [q if isinstance(q, Query) else Query(id=f"q{i}", question=str(q)) for i, q in enumerate(questions)]
        hits = self.search_rows([q.question for q in queries], k, **kwargs)
        return [Candidates(query=q, passages=self.passages(rows), scores=scores, retriever=self.name)
                for q, (rows, scores) in zip(queries, hits)]

    @property
    def name(self) -> str:
        enc = self.manifest.get("encoder", {}).get("name")
        return self.retriever if self.retriever == "bm25" else f"{self.retriever}:{enc}"


def read_manifest(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_dir():
        raise IndexLoadError(f"{path}: no such index directory")
    mf = path / "manifest.json"
    if not mf.exists():
        hint = " (an unfinished build: rerun `setsel index` to resume it)" if (path / "build.json").exists() else ""
        raise IndexLoadError(f"{path}: not an index, manifest.json is missing{hint}")
    try:
        manifest = json.loads(mf.read_text())
    except json.JSONDecodeError as exc:
        raise IndexLoadError(f"{mf}: corrupt manifest ({exc.msg})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(f"{mf}: index format {manifest.get('format_version')!r} is not supported "
                             f"(this setsel reads {FORMAT_VERSION})")
    return manifest


def load_index(path: str | Path, encoder: Any = None, verify: bool = True, gpu: str = "auto",
               encoder_path: str | None = None, mmap: bool = False) -> Index:
    """Load an index directory, checking files and encoder.

    Args:
        path: the directory :func:`build_index` wrote.
        encoder: ``None`` (load the encoder named in the manifest), an encoder name, or an
            encoder object; a different encoder than the index's is an error.
        verify: check every file's sha256 against the manifest.
        encoder_path: a local folder for the manifest's registered encoder (cluster use).
    Raises:
        IndexLoadError: missing/corrupt files or manifest, or an encoder mismatch.
    """
    path = Path(path)
    manifest = read_manifest(path)
    for rel, digest in manifest.get("files", {}).items():
        f = path / rel
        if not f.exists():
            raise IndexLoadError(f"{path}: file {rel} listed in the manifest is missing")
        if verify and _sha256(f) != digest:
            raise IndexLoadError(f"{path}: file {rel} is corrupt (checksum differs from the manifest)")
    bm25 = BM25Index.load(path / "bm25", mmap=mmap) if manifest["retriever"] in ("bm25", "hybrid") else None
    faiss_index = enc = None
    if manifest["retriever"] in ("dense", "hybrid"):
        from setsel.retrieval.dense import load_faiss
        from setsel.retrieval.encoders import load_encoder

        want = manifest["encoder"]
        if encoder is None or isinstance(encoder, str):
            name = want["name"] if encoder is None else encoder
            if name != want["name"]:
                raise IndexLoadError(f"{path}: built with encoder {want['name']!r}, asked to search with {name!r}")
            enc = load_encoder(name, encoder_path)
        else:
            enc = encoder
        got_name = getattr(getattr(enc, "spec", None), "name", None)
        got_dim = getattr(enc, "dim", None)
        if got_name != want["name"] or got_dim != want["dim"]:
            raise IndexLoadError(f"{path}: built with encoder {want['name']!r} (dim {want['dim']}), "
                                 f"got {got_name!r} (dim {got_dim})")
        faiss_index = load_faiss(path / "dense" / "index.faiss", mmap=mmap)
        if faiss_index.ntotal != manifest["count"]:
            raise IndexLoadError(f"{path}: FAISS holds {faiss_index.ntotal} vectors, manifest says {manifest['count']}")
    return Index(path, manifest, bm25, faiss_index, enc, gpu)
