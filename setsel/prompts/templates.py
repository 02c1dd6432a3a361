"""Prompt templates as data (one YAML file per template) and :func:`render`.

Each file in ``setsel/prompts/templates/`` holds ``name`` (= the file name), ``version``,
``description``, ``source`` (paper and table), an optional ``system`` message, the
``user`` message with ``{placeholders}``, an optional ``assistant_prefix`` (the reply must
start with it: pass it to the engine as ``GenerationParams.prefix``), the
``answer_regex`` that extracts the answer span (named group ``answer``) and the list of
``optional`` placeholders. Files are checked when first loaded: unknown keys, unknown
placeholders, a bad regex or a name that differs from the file name are errors.

Placeholders filled by :func:`render` itself: ``{question}`` (cleaned with
:func:`setsel.text.clean_query_text`), ``{context}`` (passages rendered
``[i] Title: … Content: …`` with 1-based ids by :func:`setsel.text.render_passages`),
``{num}`` (number of passages). Fields a caller may pass, each only to a template that
has its placeholder:

- ``max_passages`` → ``{budget}``: "Select at most N passages." (and the papers'
  "Number of passages is unlimited." is dropped, as it would contradict the budget);
- ``answers`` → ``{answers}``: "Answers: a; b" (synthesis only);
- ``queries`` → ``{queries}``: one sub-query per line.

An optional placeholder left empty removes its whole line. A required placeholder left
empty, a field the template has no placeholder for, or an unknown field is a
``ValueError`` naming it and the template.

Example:
    >>> msgs = render("setr_selection_only", question="Who?", passages=[{"title": "A", "text": "x"}])
    >>> msgs[-1]["role"], "[1] Title: A Content: x" in msgs[-1]["content"]
    ('user', True)
    >>> "Select at most 2 passages." in render_text("setr_iri", question="Who?", passages=[{"title": "A", "text": "x"}], max_passages=2)
    True
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from setsel.text import DEFAULT_MAX_WORDS, clean_query_text, render_passages
from setsel.types import Message

AUTO_FIELDS = ("question", "context", "num")
# caller field -> placeholder it fills
CALLER_FIELDS = {"max_passages": "budget", "answers": "answers", "queries": "queries"}
KNOWN_PLACEHOLDERS = frozenset(AUTO_FIELDS) | frozenset(CALLER_FIELDS.values())
UNLIMITED_SENTENCE = "Number of passages is unlimited."


@dataclass(frozen=True)
class Template:
    """One prompt template (see the module docstring for the fields)."""

    name: str
    version: str
    user: str
    answer_regex: str
    description: str = ""
    source: str = ""
    system: str | None = None
    assistant_prefix: str | None = None
    optional: tuple[str, ...] = field(default_factory=tuple)

    @property
    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for text in (self.user, self.system or ""):
            names |= {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        return names

    @property
    def id(self) -> str:
        """``name@version``, recorded with synthesised data and results."""
        return f"{self.name}@{self.version}"

    def extract(self, text: str | None) -> str | None:
        """The last match of ``answer_regex`` in ``text`` (its ``answer`` group), or ``None``.

        Example: ``get_template("setr_iri").extract("… ### Final Selection: [2] [1]")``
        → ``" [2] [1]"``. Ids are read with :func:`setsel.prompts.parse_selection`.
        """
        last = None
        for last in re.finditer(self.answer_regex, text or ""):
            pass
        return None if last is None else last.group("answer")


_REQUIRED_KEYS = {"name", "version", "user", "answer_regex", "description", "source"}
_KEYS = _REQUIRED_KEYS | {"system", "assistant_prefix", "optional"}


def _validate(file: str, data: Any) -> Template:
    if not isinstance(data, dict):
        raise ValueError(f"template file {file}: expected a mapping, got {type(data).__name__}")
    unknown = set(data) - _KEYS
    missing = _REQUIRED_KEYS - set(data)
    if unknown or missing:
        raise ValueError(f"template file {file}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    data = dict(data, version=str(data["version"]), optional=tuple(data.get("optional") or ()))
    tpl = Template(**data)
    if f"{tpl.name}.yaml" != file:
        raise ValueError(f"template file {file} declares name {tpl.name!r}")
    if not tpl.version.strip() or not tpl.description.strip() or not tpl.source.strip():
        raise ValueError(f"template file {file}: version, description and source must be non-empty")
    bad = sorted(tpl.placeholders - KNOWN_PLACEHOLDERS)
    if bad:
        raise ValueError(f"template file {file}: unknown placeholder(s) {bad}; known: {sorted(KNOWN_PLACEHOLDERS)}")
    stray = sorted(set(tpl.optional) - tpl.placeholders)
    if stray:
        raise ValueError(f"template file {file}: optional {stray} are not placeholders of the template")
    try:
        pattern = re.compile(tpl.answer_regex)
    except re.error as exc:
        raise ValueError(f"template file {file}: invalid answer_regex: {exc}") from None
    if "answer" not in pattern.groupindex:
        raise ValueError(f"template file {file}: answer_regex needs a named group 'answer'")
    return tpl


@lru_cache(maxsize=None)
def _load_all() -> dict[str, Template]:
    import yaml

    out: dict[str, Template] = {}
    folder = resources.files("setsel.prompts") / "templates"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            tpl = _validate(entry.name, yaml.safe_load(entry.read_text(encoding="utf-8")))
            out[tpl.name] = tpl
    return out


def list_templates() -> list[str]:
    """Names of every packaged template, sorted."""
    return sorted(_load_all())


def get_template(name: str) -> Template:
    """The template called ``name``; ``ValueError`` listing the available ones otherwise."""
    templates = _load_all()
    if name not in templates:
        raise ValueError(f"unknown prompt template {name!r}; available: {sorted(templates)}")
    return templates[name]


def _items(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else list(value)
    return [clean_query_text(str(x)) for x in items if x is not None and str(x).strip()]


def _field_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "max_passages":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_passages must be an int ≥ 1, got {value!r}")
        return f"Select at most {value} passage{'s' if value > 1 else ''}."
    if name == "answers":
        items = [a for a in _items(value) if a]
        return f"Answers: {'; '.join(items)}" if items else ""
    return "\n".join(q for q in _items(value) if q)  # queries


def _fill(text: str, values: dict[str, str], drop_unlimited: bool) -> str:
    lines = []
    for line in text.split("\n"):
        m = re.fullmatch(r"\{(\w+)\}", line.strip())
        if m and not values[m.group(1)]:
            continue  # an empty optional placeholder removes its line
        if drop_unlimited:
            line = line.replace(" " + UNLIMITED_SENTENCE, "").replace(UNLIMITED_SENTENCE, "")
        lines.append(line)
    return "\n".join(lines).format(**values).strip()


def render(
    name: str,
    question: str,
    passages: Sequence[Any] = (),
    max_words: int | None = DEFAULT_MAX_WORDS,
    **fields: Any,
) -> list[Message]:
    """Render template ``name`` into chat messages.

    Args:
        name: template name (see :func:`list_templates`).
        question: the user question (cleaned with ftfy, markers neutralised).
        passages: ``Passage`` objects or dicts with ``title``/``text``; ids are 1-based
            positions in this list. May be empty only where ``context`` is optional
            (``answer``: the no-passage baseline H0 of OptiSet).
        max_words: per-passage word budget (``None`` = no cut).
        **fields: ``max_passages``, ``answers``, ``queries`` where the template has them.
    Returns:
        ``[{"role": "system", …}?, {"role": "user", …}]``; the template's
        ``assistant_prefix`` is not included (give it to the engine as the reply prefix).
    Raises:
        ValueError: unknown template or field, a field the template has no placeholder
            for, or a required placeholder with no value.
    """
    tpl = get_template(name)
    unknown = sorted(f for f in fields if f not in CALLER_FIELDS)
    if unknown:
        raise ValueError(f"template {name}: unknown field(s) {unknown}; valid fields: {sorted(CALLER_FIELDS)}")
    wrong = sorted(f for f in fields if CALLER_FIELDS[f] not in tpl.placeholders)
    if wrong:
        raise ValueError(f"template {name} has no placeholder for field(s) {wrong}")
    values: dict[str, str] = {
        "question": clean_query_text(question),
        "context": render_passages(passages, max_words=max_words),
        "num": str(len(passages)),
    }
    for f, placeholder in CALLER_FIELDS.items():
        values[placeholder] = _field_text(f, fields.get(f))
    missing = sorted(p for p in tpl.placeholders if not values[p] and p not in tpl.optional)
    if missing:
        hint = {"context": "no passages given", "question": "empty question"}
        detail = "; ".join(f"{p}: {hint.get(p, 'pass ' + _caller_name(p) + '=...')}" for p in missing)
        raise ValueError(f"template {name}: missing value for placeholder(s) {missing} ({detail})")
    drop = bool(values["budget"]) and "budget" in tpl.placeholders
    messages: list[Message] = []
    if tpl.system:
        messages.append({"role": "system", "content": _fill(tpl.system, values, drop)})
    messages.append({"role": "user", "content": _fill(tpl.user, values, drop)})
    return messages


def _caller_name(placeholder: str) -> str:
    return next((f for f, p in CALLER_FIELDS.items() if p == placeholder), placeholder)


def render_text(name: str, question: str, passages: Sequence[Any] = (), **kwargs: Any) -> str:
    """:func:`render` flattened to one string (message contents joined by a blank line).

    For engines without a chat template and for inspection.
    """
    return "\n\n".join(m["content"] for m in render(name, question=question, passages=passages, **kwargs))
