"""Reading and writing records (Candidates, Selection, SampledSet, Query, Passage).

Parquet through pyarrow (imported lazily) or JSONL, chosen by the file suffix. Every
Parquet file stores ``setsel.schema_version`` and ``setsel.record`` in its metadata and
every JSONL row a ``schema_version`` field; readers reject other versions and other
record kinds with a clear :class:`~setsel.types.SchemaError`. Nested fields (passages,
lists) are stored as JSON strings in Parquet so any reader (pandas, ``datasets``) loads
them without a custom schema.

Example:
    write_records("cands.parquet", candidates)          # list[Candidates]
    cands = read_records("cands.parquet", Candidates)    # same list back
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from setsel.types import SCHEMA_VERSION, Candidates, SchemaError

T = TypeVar("T")

_META_VERSION = b"setsel.schema_version"
_META_RECORD = b"setsel.record"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".jsonl") or name.endswith(".json"):
        return "jsonl"
    raise SchemaError(f"{path}: unknown file type (use .parquet or .jsonl)")


def _flatten(record: dict[str, Any]) -> dict[str, Any]:
    """Nested values → JSON strings so every column is a scalar."""
    return {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for k, v in record.items()}


def _unflatten(row: dict[str, Any], nested: set[str]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k in nested and isinstance(v, str):
            out[k] = json.loads(v)
        else:
            out[k] = v
    return out


def write_records(path: str | Path, records: Iterable[Any], extra_metadata: dict[str, Any] | None = None) -> Path:
    """Write dataclass records (with ``to_dict``) to ``.parquet`` or ``.jsonl`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    records = list(records)
    kind = type(records[0]).__name__ if records else "unknown"
    dicts = [r.to_dict() for r in records]
    tmp = path.with_name(path.name + ".tmp")
    if _suffix(path) == "jsonl":
        with tmp.open("w", encoding="utf-8") as fh:
            for d in dicts:
                fh.write(json.dumps({"schema_version": SCHEMA_VERSION, **d}, ensure_ascii=False) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        nested = sorted({k for d in dicts for k, v in d.items() if isinstance(v, (dict, list))})
        flat = [_flatten(d) for d in dicts]
        table = pa.Table.from_pylist(flat) if flat else pa.table({})
        meta = {
            _META_VERSION: str(SCHEMA_VERSION).encode(),
            _META_RECORD: kind.encode(),
            b"setsel.nested": json.dumps(nested).encode(),
        }
        for key, value in (extra_metadata or {}).items():
            meta[f"setsel.meta.{key}".encode()] = json.dumps(value).encode()
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
        pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``extra_metadata`` stored with a Parquet file (``{}`` for JSONL)."""
    path = Path(path)
    if _suffix(path) != "parquet":
        return {}
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    prefix = b"setsel.meta."
    return {k[len(prefix):].decode(): json.loads(v) for k, v in meta.items() if k.startswith(prefix)}


def iter_records(path: str | Path, cls: type[T]) -> Iterator[T]:
    """Yield records of ``cls`` from a file written by :func:`write_records`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if _suffix(path) == "jsonl":
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SchemaError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
                try:
                    yield cls.from_dict(data)  # type: ignore[attr-defined]
                except (SchemaError, TypeError, ValueError, KeyError) as exc:
                    raise SchemaError(f"{path}:{lineno}: {exc}") from None
        return
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise SchemaError(f"{path}: not a readable Parquet file: {exc}") from None
    meta = table.schema.metadata or {}
    version = meta.get(_META_VERSION)
    if version is None:
        raise SchemaError(f"{path}: not a setsel file (no setsel.schema_version metadata)")
    if version != str(SCHEMA_VERSION).encode():
        shown = version.decode(errors="replace")
        raise SchemaError(f"{path}: schema_version {shown} is not supported (this setsel reads {SCHEMA_VERSION})")
    record = meta.get(_META_RECORD, b"").decode()
    if record not in (cls.__name__, "unknown"):
        raise SchemaError(f"{path}: holds {record} records, expected {cls.__name__}")
    nested = set(json.loads(meta.get(b"setsel.nested", b"[]")))
    for rownum, row in enumerate(table.to_pylist()):
        try:
            yield cls.from_dict(_unflatten(row, nested))  # type: ignore[attr-defined]
        except (SchemaError, TypeError, ValueError, KeyError) as exc:
            raise SchemaError(f"{path}: row {rownum}: {exc}") from None


def read_records(path: str | Path, cls: type[T]) -> list[T]:
    return list(iter_records(path, cls))


def read_candidates(path: str | Path) -> list[Candidates]:
    return read_records(path, Candidates)
