"""Tolerant parsers for model output (DESIGN §4). Pure: stdlib only, never raises on a str.

- :func:`parse_selection` — the ids of a ``### Final Selection: [i] [j]`` line;
- :func:`parse_ranking` — a RankGPT permutation ``[2] > [1] > …`` (missing ids appended);
- :func:`parse_queries` — sub-queries after ``### Queries:``.

Selection rules: look only after the last ``</think>``; take the **last** header line
(``### Final Selection``, with any number of ``#``, markdown bold, any case, missing or
full-width colon); read bracketed integers there (also ``[1, 2]``, ranges ``[1]-[3]``,
bare integers, unicode/full-width digits), stopping where prose starts after the list;
drop 0 and out-of-range ids and repeats, keeping order. Without any header, the last line
made only of bracketed ids is used (``repaired``). Numbers inside reasoning prose are
never taken. Status: ``ok`` (clean), ``repaired`` (something dropped, fixed or found
without a header — see ``problems``), ``failed`` (no usable id).

Example:
    >>> parse_selection("Step 1 ... [4] looks good.\\n### Final Selection: [2] [1]", 5)
    ParsedSelection(ids=[2, 1], status='ok', problems=[])
    >>> parse_selection("**Final Selection:** [3], [3], [9]", 5).ids
    [3]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_INPUT_CHARS = 200_000
MAX_QUERIES = 10
MAX_QUERY_CHARS = 500

_THINK_END = re.compile(r"</think>", re.IGNORECASE)
# Header: optional markdown/hash prefix, "final selection", optional bold/colon.
_HEADER = re.compile(r"(?:#{1,6}|\*{1,2}|__)?[ \t]*final[ \t]*selection[ \t]*\**[ \t]*[:：]?[ \t]*\**", re.IGNORECASE)
_QUERIES = re.compile(r"#{0,6}[ \t]*\**[ \t]*queries[ \t]*\**[ \t]*[:：]?", re.IGNORECASE)
# One list item: [3], [1, 2], [1]-[3], 1-3, or a bare 4 (after normalisation to ASCII).
_ITEM = re.compile(r"\[\s*(\d{1,6})\s*\]\s*[-–]\s*\[\s*(\d{1,6})\s*\]|\[\s*(\d{1,6}(?:\s*,\s*\d{1,6})*)\s*\]|(\d{1,6})\s*[-–]\s*(\d{1,6})|(\d{1,6})")
_SEP = re.compile(r"[\s,;.&>]*(?:and\s+)?[\s,;.&>]*", re.IGNORECASE)
_BRACKET_ONLY_LINE = re.compile(r"^[\s*]*(?:\[\s*\d{1,6}\s*\][\s,;.>]*)+$")
_MAX_RANGE = 1000


@dataclass
class ParsedSelection:
    """Parsed ids (1-based, unique, in range), a status and what was repaired."""

    ids: list[int]
    status: str
    problems: list[str] = field(default_factory=list)


def _normalise(text: str) -> str:
    """NFKC (full-width digits/colon/brackets → ASCII) and unicode decimal digits → ASCII."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isdecimal() and not ch.isascii():
            try:
                out.append(str(unicodedata.decimal(ch)))
                continue
            except ValueError:
                pass
        out.append(ch)
    return "".join(out)


def _after_think(text: str) -> str:
    parts = _THINK_END.split(text)
    return parts[-1] if len(parts) > 1 else text


def _read_list(span: str) -> tuple[list[int], list[str]]:
    """Read list items from the start of ``span`` until something else starts."""
    ids: list[int] = []
    problems: list[str] = []
    pos = 0
    n = len(span)
    while pos < n:
        sep = _SEP.match(span, pos)
        if sep:
            pos = sep.end()
        m = _ITEM.match(span, pos)
        if not m:
            break
        a, b, group, ra, rb, bare = m.groups()
        if a is not None or ra is not None:
            lo, hi = (int(a), int(b)) if a is not None else (int(ra), int(rb))
            if hi < lo or hi - lo > _MAX_RANGE:
                problems.append(f"ignored range {lo}-{hi}")
            else:
                ids.extend(range(lo, hi + 1))
                problems.append(f"expanded range {lo}-{hi}")
        elif group is not None:
            nums = [int(x) for x in re.split(r"\s*,\s*", group.strip())]
            if len(nums) > 1:
                problems.append("comma list inside brackets")
            ids.extend(nums)
        else:
            ids.append(int(bare))
            problems.append("bare integer without brackets")
        pos = m.end()
    return ids, problems


def _clean_ids(raw: list[int], num_candidates: int, problems: list[str]) -> list[int]:
    out: list[int] = []
    seen: set[int] = set()
    for i in raw:
        if i < 1 or i > num_candidates:
            problems.append(f"dropped out-of-range id {i}")
            continue
        if i in seen:
            problems.append(f"dropped repeated id {i}")
            continue
        seen.add(i)
        out.append(i)
    return out


def _result(ids: list[int], problems: list[str]) -> ParsedSelection:
    if not ids:
        return ParsedSelection([], "failed", problems or ["no ids found"])
    return ParsedSelection(ids, "repaired" if problems else "ok", problems)


def parse_selection(text: str | None, num_candidates: int) -> ParsedSelection:
    """Parse the final selection out of ``text`` for a pool of ``num_candidates``."""
    if not isinstance(text, str) or not text.strip() or num_candidates < 1:
        return ParsedSelection([], "failed", ["empty output" if num_candidates >= 1 else "empty candidate pool"])
    problems: list[str] = []
    if len(text) > MAX_INPUT_CHARS:
        text = text[-MAX_INPUT_CHARS:]
        problems.append(f"input cut to its last {MAX_INPUT_CHARS} characters")
    body = _normalise(_after_think(text))
    headers = list(_HEADER.finditer(body))
    if len(headers) > 1:
        problems.append(f"{len(headers)} selection headers; used the last")
    if headers:
        start = headers[-1].end()
        line_end = body.find("\n", start)
        span = body[start:] if line_end < 0 else body[start:line_end]
        if not span.strip() and line_end >= 0:
            # Header alone on its line: the list is on the next non-empty line.
            rest = body[line_end + 1 :].lstrip("\n")
            nl = rest.find("\n")
            span = rest if nl < 0 else rest[:nl]
        raw, list_problems = _read_list(span.strip(" \t*:"))
        problems.extend(list_problems)
        return _result(_clean_ids(raw, num_candidates, problems), problems)
    # No header: the last line made only of bracketed ids.
    for line in reversed(body.splitlines()):
        if _BRACKET_ONLY_LINE.match(line):
            raw, list_problems = _read_list(line.strip(" \t*"))
            problems.append("no '### Final Selection' header; used the last line of bracketed ids")
            problems.extend(list_problems)
            return _result(_clean_ids(raw, num_candidates, problems), problems)
    return ParsedSelection([], "failed", problems + ["no '### Final Selection' line"])


def parse_ranking(text: str | None, num_candidates: int) -> ParsedSelection:
    """Parse a RankGPT permutation; ids the model left out are appended in original order."""
    if not isinstance(text, str) or num_candidates < 1:
        return ParsedSelection([], "failed", ["empty output"])
    body = _normalise(_after_think(text[-MAX_INPUT_CHARS:]))
    raw = [int(x) for x in re.findall(r"\[\s*(\d{1,6})\s*\]", body)]
    problems: list[str] = []
    ids = _clean_ids(raw, num_candidates, problems)
    if not ids:
        return ParsedSelection(list(range(1, num_candidates + 1)), "failed", problems + ["no ranking found"])
    missing = [i for i in range(1, num_candidates + 1) if i not in set(ids)]
    if missing:
        problems.append(f"appended {len(missing)} missing id(s) in original order")
    return ParsedSelection(ids + missing, "repaired" if problems else "ok", problems)


def parse_queries(text: str | None, max_queries: int = MAX_QUERIES) -> list[str]:
    """Sub-queries after the last ``### Queries:`` (or the whole text without one)."""
    if not isinstance(text, str) or not text.strip():
        return []
    body = _normalise(_after_think(text[-MAX_INPUT_CHARS:]))
    marks = list(_QUERIES.finditer(body))
    if marks:
        body = body[marks[-1].end() :]
    out: list[str] = []
    seen: set[str] = set()
    for line in body.splitlines():
        q = re.sub(r"^\s*(?:[-*•]+|\d{1,3}[.)]|q\d{1,3}[:.)]|query\s*\d{1,3}\s*[:.)])\s*", "", line, flags=re.IGNORECASE)
        q = q.strip().strip('"').strip("<>").strip()
        if not q or q.startswith("###") or len(q) < 3:
            continue
        q = q[:MAX_QUERY_CHARS]
        key = q.lower()
        if key in seen:
            continue
        seen.add(key)
        out.append(q)
        if len(out) >= max_queries:
            break
    return out
