"""Prompt templates as data, rendering, and tolerant parsers (DESIGN §4). Imports nothing heavy.

Example:
    >>> from setsel.prompts import render, parse_selection
    >>> msgs = render("setr_iri", question="Who?", passages=[{"title": "A", "text": "x"}])
    >>> parse_selection("Step 1 ...\\n### Final Selection: [1]", 1).ids
    [1]
"""

from setsel.prompts.parse import ParsedSelection, parse_queries, parse_ranking, parse_selection
from setsel.prompts.templates import Template, get_template, list_templates, render, render_text

__all__ = [
    "ParsedSelection",
    "Template",
    "get_template",
    "list_templates",
    "parse_queries",
    "parse_ranking",
    "parse_selection",
    "render",
    "render_text",
]
