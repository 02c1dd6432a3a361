"""Shared pieces of the benchmark loaders: strict JSONL reading, field access, title keys.

Every error is a :class:`DatasetError` (a :class:`~setsel.types.SchemaError`) whose
message starts with ``<file>:<line>:`` and names the field, e.g.
``dev.jsonl:7: field 'contexts[3].paragraph_text': missing``.

Example:
    >>> title_key('"Gary  Groth"')
    'gary groth'
    >>> join_sentences(["A b.", "C d."]), join_sentences(["A b.", " C d."])
    ('A b. C d.', 'A b. C d.')
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from setsel.types import SchemaError

_WS = re.compile(r"\s+")


class DatasetError(SchemaError):
    """A benchmark file is malformed; the message names the file, line and field."""


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSON Lines file.

    Raises:
        FileNotFoundError: no such file.
        DatasetError: a line is not valid JSON or not a JSON object.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
            yield lineno, row


class Row:
    """Typed access to one JSON object with errors that name file, line and field.

    Example:
        >>> Row({"a": 1}, "f.jsonl", 3).get("a", int)
        1
    """

    def __init__(self, data: dict[str, Any], path: str | Path, lineno: int, prefix: str = "") -> None:
        self.data, self.path, self.lineno, self.prefix = data, Path(path), lineno, prefix

    def error(self, field: str, problem: str) -> DatasetError:
        return DatasetError(f"{self.path}:{self.lineno}: field '{self.prefix}{field}': {problem}")

    def get(self, field: str, kind: type | tuple[type, ...] = object, default: Any = ...) -> Any:
        """``data[field]`` checked against ``kind``; missing → ``default`` or an error."""
        if field not in self.data or self.data[field] is None:
            if default is not ...:
                return default
            raise self.error(field, "missing")
        value = self.data[field]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds and object not in kinds):
            names = "/".join(k.__name__ for k in kinds)
            raise self.error(field, f"expected {names}, got {type(value).__name__}")
        return value

    def child(self, field: str, index: int, kind: type = dict) -> "Row":
        """The ``index``-th item of list ``field`` as a :class:`Row` (must be of ``kind``)."""
        item = self.data[field][index]
        if not isinstance(item, kind):
            raise self.error(f"{field}[{index}]", f"expected {kind.__name__}, got {type(item).__name__}")
        return Row(item if isinstance(item, dict) else {}, self.path, self.lineno, f"{self.prefix}{field}[{index}].")

    def str_list(self, field: str, default: Any = ...) -> list[str]:
        """A list of strings (numbers are converted; anything else is an error)."""
        value = self.get(field, list, default)
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise self.error(f"{field}[{i}]", f"expected a string, got {type(v).__name__}")
            out.append(str(v))
        return out


def title_key(title: str) -> str:
    """The key two titles must share to match: NFKC, quotes removed, whitespace collapsed, case-folded."""
    text = unicodedata.normalize("NFKC", title).replace('"', " ")
    return _WS.sub(" ", text).strip().casefold()


def join_sentences(sentences: list[str]) -> str:
    """Concatenate sentences into a paragraph: a space is added only where none is present."""
    out = ""
    for s in sentences:
        if out and s and not out[-1].isspace() and not s[0].isspace():
            out += " "
        out += s
    return out.strip()


def resolve(path: str | Path, data_root: Path) -> Path:
    """``path`` as given when it exists, else relative to ``data_root`` (the data directory)."""
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return p
    candidate = data_root / p
    return candidate if candidate.exists() else p
