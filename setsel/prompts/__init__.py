"""Prompt templates as data, rendering, and tolerant parsers (DESIGN §4). Imports nothing heavy."""

from setsel.prompts.parse import ParsedSelection, parse_queries, parse_ranking, parse_selection
from setsel.prompts.templates import Template, get_template, list_templates, render

__all__ = [
    "ParsedSelection",
    "Template",
    "get_template",
    "list_templates",
    "parse_queries",
    "parse_ranking",
    "parse_selection",
    "render",
]
