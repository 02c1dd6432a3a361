"""Prompt templates as data (one YAML file per template) and :func:`render`.

Each file in ``setsel/prompts/templates/`` holds ``name``, ``version``, ``description``,
``source`` (paper and table), an optional ``system`` message, the ``user`` message with
``{placeholders}``, an optional ``assistant_prefix`` (the reply must start with it), the
``answer_regex`` that extracts the answer span (named group ``answer``) and the list of
``optional`` placeholders.

Placeholders filled by :func:`render` itself: ``{question}`` (cleaned), ``{context}``
(passages rendered ``[i] Title: … Content: …``), ``{num}`` (number of passages). Fields a
caller may pass: ``max_passages`` (→ ``{budget}``: "Select at most N passages."),
``answers`` (→ ``{answers}``: "Answers: a; b", used only in synthesis), ``queries``
(→ ``{queries}``, one sub-query per line). An optional placeholder left empty removes its
line. A missing required placeholder or an unknown field is a ``ValueError`` naming it.

Example:
    >>> msgs = render("setr_selection_only", question="Who?", passages=[{"title": "A", "text": "x"}])
    >>> msgs[-1]["role"], "[1] Title: A Content: x" in msgs[-1]["content"]
    ('user', True)
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


@dataclass(frozen=True)
class Template:
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
        names = set()
        for text in (self.user, self.system or ""):
            names |= {f for _, f, _, _ in string.Formatter().parse(text) if f}
        return names

    @property
    def id(self) -> str:
        """``name@version``, recorded with synthesised data and results."""
        return f"{self.name}@{self.version}"

    def extract(self, text: str) -> str | None:
        """The last match of ``answer_regex`` in ``text`` (its ``answer`` group), or ``None``."""
        matches = list(re.finditer(self.answer_regex, text or ""))
        return matches[-1].group("answer") if matches else None


_KEYS = {"name", "version", "user", "answer_regex", "description", "source", "system", "assistant_prefix", "optional"}


@lru_cache(maxsize=None)
def _load_all() -> dict[str, Template]:
    import yaml

    out: dict[str, Template] = {}
    folder = resources.files("setsel.prompts") / "templates"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        data = yaml.safe_load(entry.read_text(encoding="utf-8"))
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(f"template file {entry.name}: unknown keys {sorted(unknown)}")
        data["optional"] = tuple(data.get("optional") or ())
        data["version"] = str(data["version"])
        tpl = Template(**data)
        if tpl.name + ".yaml" != entry.name:
            raise ValueError(f"template file {entry.name} declares name {tpl.name!r}")
        re.compile(tpl.answer_regex)
        out[tpl.name] = tpl
    return out


def list_templates() -> list[str]:
    return sorted(_load_all())


def get_template(name: str) -> Template:
    templates = _load_all()
    if name not in templates:
        raise ValueError(f"unknown prompt template {name!r}; available: {sorted(templates)}")
    return templates[name]


def _field_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "max_passages":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_passages must be an int ≥ 1, got {value!r}")
        return f"Select at most {value} passages."
    if name == "answers":
        items = [value] if isinstance(value, str) else list(value)
        items = [clean_query_text(str(a)) for a in items if str(a).strip()]
        return f"Answers: {'; '.join(items)}" if items else ""
    if name == "queries":
        items = [value] if isinstance(value, str) else list(value)
        return "\n".join(clean_query_text(str(q)) for q in items if str(q).strip())
    raise AssertionError(name)


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
            positions in this list.
        max_words: per-passage word budget (``None`` = no cut).
        **fields: ``max_passages``, ``answers``, ``queries`` where the template has them.
    Returns:
        ``[{"role": "system", …}?, {"role": "user", …}]``.
    """
    tpl = get_template(name)
    unknown = [f for f in fields if f not in CALLER_FIELDS]
    if unknown:
        raise ValueError(f"template {name}: unknown field(s) {unknown}; fields: {sorted(CALLER_FIELDS)}")
    wrong = [f for f in fields if CALLER_FIELDS[f] not in tpl.placeholders]
    if wrong:
        raise ValueError(f"template {name} has no placeholder for field(s) {wrong}")
    values: dict[str, str] = {
        "question": clean_query_text(question),
        "context": render_passages(passages, max_words=max_words),
        "num": str(len(passages)),
    }
    for f, placeholder in CALLER_FIELDS.items():
        if placeholder in tpl.placeholders:
            values[placeholder] = _field_text(f, fields.get(f))
    missing = [p for p in tpl.placeholders if not values.get(p) and p not in tpl.optional and p not in ("context",)]
    if missing:
        raise ValueError(f"template {name}: missing value for placeholder(s) {sorted(missing)}")
    unfilled = tpl.placeholders - set(values)
    if unfilled:
        raise ValueError(f"template {name}: placeholder(s) {sorted(unfilled)} cannot be filled")

    def fill(text: str) -> str:
        lines = []
        for line in text.split("\n"):
            stripped = line.strip()
            m = re.fullmatch(r"\{(\w+)\}", stripped)
            if m and m.group(1) in values and not values[m.group(1)]:
                continue  # an empty optional field removes its line
            lines.append(line)
        return "\n".join(lines).format(**values)

    messages: list[Message] = []
    if tpl.system:
        messages.append({"role": "system", "content": fill(tpl.system)})
    messages.append({"role": "user", "content": fill(tpl.user)})
    return messages
