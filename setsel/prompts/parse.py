"""Tolerant parsers for model output (DESIGN §4). Pure: stdlib only, never raises on a str.

- :func:`parse_selection` — the ids of a ``### Final Selection: [i] [j]`` line;
- :func:`parse_ranking` — a RankGPT permutation ``[2] > [1] > …`` (missing ids appended);
- :func:`parse_queries` — sub-queries after ``### Queries:``.

Selection rules:

1. Only the text after the last ``</think>`` counts (an unclosed ``<think>`` is noted).
2. The **last** header counts. A header is ``final selection`` (any case and spacing,
   plural allowed) that is prefixed by ``#`` or markdown bold, or starts a line, or is
   followed by a colon; ``:``, ``：`` and ``**`` around it are skipped.
   ``final-selection`` (what :func:`setsel.text.neutralise_markers` leaves of a marker
   planted in a passage) is not a header, nor is "final selection" inside a sentence.
3. The list is read from the rest of the header line — or, when that is empty, from the
   following lines made only of ids (bullets allowed). Items: ``[3]``, ``[1, 2]``,
   ``[1]-[3]``, ``[1-3]``; without brackets ``2 5``, ``1-3``, ``Passage 4``. Full-width and
   other unicode digits are mapped to ASCII (NFKC + ``unicodedata.decimal``). Reading
   stops at the first thing that is not an item or a separator (``,`` ``;`` ``&`` ``>``
   ``and``); a ``.`` ends the list, so numbers in trailing prose are never taken.
4. Without a header — or when the last header carries no ids — the last line made only
   of bracketed ids (after that header, if any) is used (``repaired``).
5. 0, out-of-range ids and repeats are dropped, keeping first-seen order.

Status: ``ok`` (clean: ids found, nothing to report), ``repaired`` (ids found, but
something was dropped, rewritten or found without a header — see ``problems``),
``failed`` (no usable id; ``ids`` is empty). Every regex is linear-time on adversarial
input; inputs longer than :data:`MAX_INPUT_CHARS` are cut to their tail.

Example:
    >>> parse_selection("Step 1 ... [4] looks good.\\n### Final Selection: [2] [1]", 5)
    ParsedSelection(ids=[2, 1], status='ok', problems=[])
    >>> parse_selection("**Final Selection:** [3], [3], [9]", 5).ids
    [3]
    >>> parse_ranking("[3] > [1]", 4).ids
    [3, 1, 2, 4]
    >>> parse_queries("### Queries: Who founded Acme?\\n2. Where is Acme based?")
    ['Who founded Acme?', 'Where is Acme based?']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_INPUT_CHARS = 200_000
MAX_QUERIES = 10
MAX_QUERY_CHARS = 500
_MAX_RANGE = 1000  # a range wider than this is ignored, not expanded
_NUM = r"\d{1,9}"  # bounded: int() of a huge digit run would raise (Python's int limit)

_THINK_END = re.compile(r"</think\s*>", re.IGNORECASE)
_THINK_START = re.compile(r"<think\s*>", re.IGNORECASE)
_WORDS = r"(?<![a-z])final[ \t]*selections?(?![a-z])"
_BOLD = r"(?:\*\*|__)"
_HEADER = re.compile(
    rf"(?:#{{1,10}}[ \t]*(?:{_BOLD}[ \t]*)?{_WORDS}"  # ### Final Selection (anywhere)
    rf"|{_BOLD}[ \t]*{_WORDS}"  # **Final Selection** (anywhere)
    rf"|^[ \t>*+•-]{{0,10}}{_WORDS}"  # Final Selection at the start of a line
    rf"|{_WORDS}(?=[ \t]*(?:{_BOLD}[ \t]*)?[:：]))"  # final selection: (anywhere)
    rf"[ \t]*{_BOLD}?[ \t]*[:：]?[ \t]*{_BOLD}?",
    re.IGNORECASE | re.MULTILINE,
)
_LEAD = re.compile(r"[ \t*_:=>-]*(?:(?:the[ \t]+)?(?:passages?|docs?|documents?|ids?)[ \t]*[:=]?[ \t]*)?", re.I)
_BRACKET_ITEM = re.compile(
    rf"\[[ \t]*({_NUM})[ \t]*\][ \t]*[-–—][ \t]*\[[ \t]*({_NUM})[ \t]*\]"  # [1]-[3]
    rf"|\[[ \t]*({_NUM})[ \t]*[-–—][ \t]*({_NUM})[ \t]*\]"  # [1-3]
    rf"|\[[ \t]*({_NUM}(?:[ \t]*,[ \t]*{_NUM})*)[ \t]*\]"  # [3] or [1, 2]
)
_BARE_ITEM = re.compile(
    rf"(?:(?:passages?|docs?|documents?)[ \t]*)?(?:({_NUM})[ \t]*[-–—][ \t]*({_NUM})|({_NUM}))\b", re.IGNORECASE
)
_SEP = re.compile(r"[ \t,;&>|/+*]*(?:and\b)?[ \t,;&>|/+*]*", re.IGNORECASE)
_BULLET = re.compile(r"^[ \t]*(?:[-*+•][ \t]*)?")
_ID_LINE = re.compile(rf"^[ \t*>•+-]*(?:\[[ \t]*{_NUM}[ \t]*(?:[-–—,][ \t]*{_NUM}[ \t]*)*\][ \t,;.>&*+–—-]*)+$")
_CHAIN = re.compile(rf"\[[ \t]*{_NUM}[ \t]*\](?:[ \t]*>[ \t]*\[[ \t]*{_NUM}[ \t]*\])+")
_BARE_CHAIN = re.compile(rf"\b{_NUM}(?:[ \t]*>[ \t]*{_NUM})+\b")
_BRACKETED = re.compile(rf"\[[ \t]*({_NUM})[ \t]*\]")
_QUERIES = re.compile(
    rf"#{{1,10}}[ \t]*(?:{_BOLD}[ \t]*)?queries\b[ \t]*(?:{_BOLD}[ \t]*)?[:：]?"
    rf"|^[ \t]*(?:{_BOLD}[ \t]*)?queries[ \t]*(?:{_BOLD}[ \t]*)?[:：]",
    re.IGNORECASE | re.MULTILINE,
)
_QUERY_PREFIX = re.compile(
    r"^[ \t]*(?:[-*•+][ \t]*|\(?\d{1,3}[.):][ \t]+|q\d{1,3}[ \t]*[:.)][ \t]*|(?:sub-?)?query[ \t]*\d{1,3}[ \t]*[:.)][ \t]*)",
    re.IGNORECASE,
)
_QUERY_ECHO = re.compile(r"<?[ \t]*query[ \t]*(?:\d{1,3}|n)[ \t]*>?|\.{2,}|…", re.IGNORECASE)
_QUESTION_SPLIT = re.compile(r"(?<=\?)[ \t]+(?=\S)")


@dataclass
class ParsedSelection:
    """Parsed ids (1-based, unique, in range), a status and what was repaired.

    Invariants: ``status == "failed"`` ⇔ ``ids == []``; ``status == "ok"`` ⇔ ids found and
    ``problems == []``.
    """

    ids: list[int]
    status: str
    problems: list[str] = field(default_factory=list)


def _check_pool(num_candidates: int) -> None:
    if isinstance(num_candidates, bool) or not isinstance(num_candidates, int):
        raise TypeError(f"num_candidates must be an int, got {type(num_candidates).__name__}")


def _normalise(text: str) -> str:
    """NFKC (full-width digits/colon/brackets → ASCII) and unicode decimal digits → ASCII."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
    )


def _answer_part(text: object, problems: list[str]) -> str | None:
    """The normalised text after the last ``</think>``; ``None`` when there is nothing."""
    if text is None:
        return None
    if not isinstance(text, str):
        problems.append(f"output is a {type(text).__name__}, not a string")
        return None
    if len(text) > MAX_INPUT_CHARS:
        text = text[-MAX_INPUT_CHARS:]
        problems.append(f"input cut to its last {MAX_INPUT_CHARS} characters")
    parts = _THINK_END.split(text)
    if len(parts) > 1:
        text = parts[-1]
    elif _THINK_START.search(text):
        problems.append("unclosed <think> block")
    return _normalise(text)


def _expand(lo: int, hi: int, raw: list[int], problems: list[str]) -> None:
    if hi < lo or hi - lo > _MAX_RANGE:
        problems.append(f"ignored range {lo}-{hi}")
    else:
        raw.extend(range(lo, hi + 1))
        problems.append(f"expanded range {lo}-{hi}")


def _read_list(span: str, raw: list[int], problems: list[str]) -> None:
    """Append the ids listed at the start of ``span`` to ``raw``; stop where the list ends.

    The first item fixes the mode: bracketed items only, or bare integers only.
    """
    pos = _LEAD.match(span).end()
    bracketed = _BRACKET_ITEM.match(span, pos) is not None
    item_re = _BRACKET_ITEM if bracketed else _BARE_ITEM
    first = True
    while pos < len(span):
        if not first:
            pos = _SEP.match(span, pos).end()
        m = item_re.match(span, pos)
        if not m:
            break
        first = False
        pos = m.end()
        if bracketed:
            a, b, c, d, group = m.groups()
            if a is not None or c is not None:
                _expand(int(a or c), int(b or d), raw, problems)
            else:
                nums = [int(x) for x in group.split(",")]
                if len(nums) > 1:
                    problems.append(f"comma list inside brackets [{group}]")
                raw.extend(nums)
        else:
            lo, hi, bare = m.groups()
            if bare is not None:
                raw.append(int(bare))
                problems.append(f"bare integer {bare} without brackets")
            else:
                _expand(int(lo), int(hi), raw, problems)


def _clean_ids(raw: list[int], num_candidates: int, problems: list[str]) -> list[int]:
    out: list[int] = []
    seen: set[int] = set()
    bad: list[int] = []
    repeats: list[int] = []
    for i in raw:
        if i < 1 or i > num_candidates:
            bad.append(i)
        elif i in seen:
            repeats.append(i)
        else:
            seen.add(i)
            out.append(i)
    if bad:
        problems.append(f"dropped out-of-range id(s) {_short(bad)} (pool of {num_candidates})")
    if repeats:
        problems.append(f"dropped repeated id(s) {_short(repeats)}")
    return out


def _short(ids: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return f"[{shown}]" if len(ids) <= limit else f"[{shown}, … {len(ids) - limit} more]"


def _result(ids: list[int], problems: list[str]) -> ParsedSelection:
    if not ids:
        return ParsedSelection([], "failed", problems or ["no ids found"])
    return ParsedSelection(ids, "repaired" if problems else "ok", problems)


def _last_id_line(body: str, raw: list[int], problems: list[str]) -> bool:
    """Read the last line of ``body`` made only of bracketed ids; ``False`` if there is none."""
    for line in reversed(body.splitlines()):
        if _ID_LINE.match(line):
            _read_list(_BULLET.sub("", line), raw, problems)
            return True
    return False


def parse_selection(text: str | None, num_candidates: int) -> ParsedSelection:
    """Parse the final selection out of ``text`` for a pool of ``num_candidates``.

    Args:
        text: the model output (``None`` reads as empty).
        num_candidates: the pool size; valid ids are ``1..num_candidates``.
    Returns:
        :class:`ParsedSelection`; never raises for any ``text``.
    Raises:
        TypeError: ``num_candidates`` is not an int.
    """
    _check_pool(num_candidates)
    problems: list[str] = []
    if num_candidates < 1:
        return ParsedSelection([], "failed", ["empty candidate pool"])
    body = _answer_part(text, problems)
    if body is None or not body.strip():
        return ParsedSelection([], "failed", problems + ["empty output"])
    headers = list(_HEADER.finditer(body))
    raw: list[int] = []
    if not headers:
        if not _last_id_line(body, raw, problems):
            return ParsedSelection([], "failed", problems + ["no '### Final Selection' line"])
        problems.insert(0, "no '### Final Selection' header; used the last line of bracketed ids")
        return _result(_clean_ids(raw, num_candidates, problems), problems)
    if len(headers) > 1:
        problems.append(f"{len(headers)} selection headers; used the last")
    rest = body[headers[-1].end() :]
    first, _, below = rest.partition("\n")
    _read_list(first, raw, problems)
    if not raw and not first.strip(" \t*_:.-"):
        # The header stands alone on its line: read the id-only lines that follow it.
        lines = below.lstrip("\n").split("\n")
        for line in lines:
            if not _ID_LINE.match(line):
                break
            _read_list(_BULLET.sub("", line), raw, problems)
    if not raw and _last_id_line(rest, raw, problems):
        problems.insert(0, "no ids on the last header line; used the last line of bracketed ids after it")
    return _result(_clean_ids(raw, num_candidates, problems), problems)


def parse_ranking(text: str | None, num_candidates: int) -> ParsedSelection:
    """Parse a RankGPT permutation ``[2] > [1] > …`` into a full ranking of the pool.

    Uses the last ``>`` chain of bracketed ids (else the last bare ``2 > 1`` chain, else the
    bracketed ids of the last line holding any, ``repaired``). Repeats and out-of-range
    ids are dropped; ids the model left out are appended in original order (``repaired``).
    Returns ``failed`` with no ids when nothing usable is found (the caller's fallback
    applies).
    """
    _check_pool(num_candidates)
    problems: list[str] = []
    if num_candidates < 1:
        return ParsedSelection([], "failed", ["empty candidate pool"])
    body = _answer_part(text, problems)
    if body is None or not body.strip():
        return ParsedSelection([], "failed", problems + ["empty output"])
    raw: list[int] = []
    chains = list(_CHAIN.finditer(body)) or list(_BARE_CHAIN.finditer(body))
    if chains:
        raw = [int(x) for x in re.findall(_NUM, chains[-1].group(0))]
        if len(chains) > 1:
            problems.append(f"{len(chains)} rankings; used the last")
    else:
        for line in reversed(body.splitlines()):
            raw = [int(x) for x in _BRACKETED.findall(line)]
            if raw:
                problems.append("no '[i] > [j]' chain; used the bracketed ids of the last line holding any")
                break
    ids = _clean_ids(raw, num_candidates, problems)
    if not ids:
        return ParsedSelection([], "failed", problems + ["no ranking found"])
    chosen = set(ids)
    missing = [i for i in range(1, num_candidates + 1) if i not in chosen]
    if missing:
        problems.append(f"appended {len(missing)} missing id(s) in original order")
    return ParsedSelection(ids + missing, "repaired" if problems else "ok", problems)


def _query_lines(line: str) -> list[str]:
    out = []
    for part in _QUESTION_SPLIT.split(line):
        q = _QUERY_PREFIX.sub("", part).strip().strip("*").strip().strip("\"'“”").strip()
        if q.startswith("<") and q.endswith(">"):
            q = q[1:-1].strip()
        if not any(ch.isalnum() for ch in q) or _QUERY_ECHO.fullmatch(q):
            continue
        out.append(q)
    return out


def parse_queries(text: str | None, max_queries: int = MAX_QUERIES, max_chars: int = MAX_QUERY_CHARS) -> list[str]:
    """Sub-queries after the last ``### Queries:`` marker (the whole text without one).

    One query per line (several ``?``-ended questions on one line are split); numbering,
    bullets, quotes and template echoes (``<Query 1>``, ``...``) are stripped; reading
    stops at the next ``#`` header; empties and case-insensitive repeats are dropped; at
    most ``max_queries`` queries of at most ``max_chars`` characters each.

    Example:
        >>> parse_queries("### Queries:\\n- Who is A?\\n- Who is A?\\n1. Where is B?")
        ['Who is A?', 'Where is B?']
    """
    body = _answer_part(text, [])
    if body is None:
        return []
    marks = list(_QUERIES.finditer(body))
    if marks:
        body = body[marks[-1].end() :]
    out: list[str] = []
    seen: set[str] = set()
    for line in body.splitlines():
        if line.lstrip().startswith("#"):
            break
        for q in _query_lines(line):
            q = " ".join(q.split())[:max_chars].rstrip()
            key = q.casefold()
            if key in seen:
                continue
            seen.add(key)
            out.append(q)
            if len(out) >= max_queries:
                return out
    return out
