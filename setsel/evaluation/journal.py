"""A run's journal of finished questions: what makes ``setsel eval`` and ``setsel select`` resumable.

The journal is a JSON-lines file beside the outputs. Its first line is a header with the
run's *fingerprint* (the settings that decide the results); every later line is one
finished question: ``{"key", "selection", "answer", "wall_s"}`` (``key`` = the question's
position and id, ``"3:5a7bbb64…"``, so a dataset repeating an id stays exact). After each batch the
runner appends that batch's lines with one ``write`` and an ``fsync``, so a run killed at
any point (even ``kill -9``) loses at most the batch in flight; a torn last line is ignored
on reading; a question written twice counts once (the last line wins).

A rerun with the same settings reads the journal, skips the finished questions and computes
only the rest; the final metrics equal an uninterrupted run's (``wall_s`` is the sum of the
batches' wall times across attempts). A rerun with different settings in the same folder is
refused (:class:`JournalMismatch`, naming the settings that differ) unless ``overwrite``,
which starts the journal afresh.

Example:
    >>> import tempfile, pathlib
    >>> j = Journal(pathlib.Path(tempfile.mkdtemp()) / "journal.jsonl", {"method": "topk", "k": 2})
    >>> j.finished()
    {}
    >>> j.append([{"key": "0:q1", "selection": {"ids": ["a"]}, "answer": None, "wall_s": 0.1}])
    >>> sorted(Journal(j.path, {"method": "topk", "k": 2}).finished())
    ['0:q1']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from setsel.config import ConfigError


def question_keys(candidates: list[Any]) -> list[str]:
    """The journal key of each question: its position and id (``"3:5a7bbb64…"``).

    >>> from types import SimpleNamespace as NS
    >>> question_keys([NS(query=NS(id="q1")), NS(query=NS(id="q1"))])
    ['0:q1', '1:q1']
    """
    return [f"{i}:{c.query.id}" for i, c in enumerate(candidates)]


class JournalMismatch(ConfigError):
    """The folder holds a journal of a run with other settings."""


class Journal:
    """Append-only record of finished questions for one run (see the module docstring).

    Args:
        path: the journal file (created with its header when missing).
        fingerprint: JSON-serialisable settings that decide the results.
        overwrite: discard an existing journal (of any settings) and start afresh.
    """

    def __init__(self, path: str | Path, fingerprint: dict[str, Any], overwrite: bool = False):
        self.path = Path(path)
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        if overwrite and self.path.exists():
            self.path.unlink()
        if self.path.exists():
            header = self._header()
            if header != self.fingerprint:
                differ = sorted(k for k in set(header) | set(self.fingerprint) if header.get(k) != self.fingerprint.get(k))
                raise JournalMismatch(
                    f"{self.path.parent} holds a run with other settings ({', '.join(differ) or 'unreadable header'}); "
                    "use another output folder, or --overwrite to discard it")
            with self.path.open("rb+") as fh:  # a kill mid-write may leave a torn last line: end it
                size = fh.seek(0, os.SEEK_END)
                if size:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        fh.write(b"\n")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write([{"journal": 1, "fingerprint": self.fingerprint}])

    def _header(self) -> dict[str, Any]:
        with self.path.open(encoding="utf-8") as fh:
            first = fh.readline()
        try:
            return json.loads(first)["fingerprint"]
        except (ValueError, KeyError, TypeError):
            return {}

    def finished(self) -> dict[str, dict[str, Any]]:
        """``{key: record}`` of the questions already done (torn or malformed lines skipped)."""
        done: dict[str, dict[str, Any]] = {}
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            next(fh, None)
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill mid-write
                if isinstance(record, dict) and isinstance(record.get("key"), str):
                    done[record["key"]] = record
        return done

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append finished questions durably (one write, flushed and fsynced)."""
        if records:
            self._write(records)

    def _write(self, records: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in records)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
