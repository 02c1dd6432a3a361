"""The one selection-format object: render, constraint, stop marker, phase-2 request and parse agree."""

from __future__ import annotations

import re

import pytest

from setsel.prompts import get_template
from setsel.prompts.selection_format import SELECTION, SelectionFormat
from setsel.types import SelectionConstraint


def test_hand_computed_values():
    assert SELECTION.render([3, 1, 10]) == "### Final Selection: [3] [1] [10]"
    assert SELECTION.stop == "### Final Selection"
    assert SELECTION.tokens(1) == 14 and SELECTION.tokens(0) == 14 and SELECTION.tokens(4) == 32
    assert SELECTION.request(None) == "Now output only your final selection, in the format '### Final Selection: [] []'."
    assert SELECTION.request(1).startswith("Now output only your final selection of at most 1 passage,")
    with pytest.raises(ValueError, match="at least one"):
        SELECTION.render([])


@pytest.mark.parametrize("ids,n", [([1], 1), ([2, 1], 3), ([7, 3, 12], 12), ([20], 20)])
def test_render_is_what_the_constraint_admits_and_the_parser_reads(ids, n):
    line = SELECTION.render(ids)
    assert re.fullmatch(SELECTION.constraint(n, len(ids)).to_regex(), line)
    assert not re.fullmatch(SELECTION.constraint(n, len(ids)).to_regex(), SELECTION.render([*ids, 1]))  # over budget
    parsed = SELECTION.parse(f"Reasoning about [4] first.\n{line}", n)
    assert parsed.ids == ids and parsed.status == "ok"
    assert line.startswith(SELECTION.stop)  # phase 1 stops where the selection line starts


def test_the_default_constraint_and_the_paper_prompts_use_the_same_header():
    assert SelectionConstraint(3).header == SELECTION.header
    for name in ("setr_iri", "setr_cot", "setr_selection_only", "optiset_select", "optiset_refine"):
        tpl = get_template(name)
        assert SELECTION.stop in tpl.user, name
        assert tpl.extract(SELECTION.render([2, 1])).strip() == "[2] [1]", name


def test_another_header_changes_every_piece_together():
    fmt = SelectionFormat(header="## Chosen:")
    assert fmt.render([2]) == "## Chosen: [2]" and fmt.stop == "## Chosen"
    assert re.fullmatch(fmt.constraint(2).to_regex(), "## Chosen: [2] [1]")
    assert "'## Chosen: [] []'" in fmt.request(2)
