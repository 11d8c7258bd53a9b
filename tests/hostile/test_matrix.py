"""The hostile-input matrix holds together: every test in this package names one of its cells,
every cell is tested or says why it cannot apply, and docs/reliability.md shows the table."""

from __future__ import annotations

from pathlib import Path

from tests.hostile.matrix import (
    CASES,
    NOT_APPLICABLE,
    SURFACES,
    cells_named,
    cells_of,
    covered_cells,
    holes,
    markdown_table,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def test_every_hostile_test_names_a_surface_and_a_case() -> None:
    for name, cells in cells_of().items():
        assert cells, f"{name} names no case of {CASES} after its surface"
        assert all(surface in SURFACES for surface, _ in cells), f"{name}: not a surface of the matrix"


def test_every_cell_is_tested_or_says_why_it_cannot_apply() -> None:
    tested = covered_cells()
    assert holes(tested) == []
    assert not tested & set(NOT_APPLICABLE), "a cell is tested and also marked not applicable"
    assert set(NOT_APPLICABLE) <= {(s, c) for s in SURFACES for c in CASES}
    assert all(reason.strip() for reason in NOT_APPLICABLE.values())


def test_a_missing_test_or_a_stray_name_is_caught() -> None:
    """The checks above can fail: a cell whose only test goes is a hole; a name without a case claims nothing."""
    tested = covered_cells()
    cell = ("stdin", "endless")
    assert cell in tested and cell not in holes(tested) and cell in holes(tested - {cell})
    assert cells_named("test_stdin__works") == []
    assert cells_named("test_image__bomb_and_huge_in_the_tui") == [("image", "bomb"), ("image", "huge")]


def test_the_reliability_doc_shows_the_matrix() -> None:
    assert markdown_table() in DOC.read_text(), "paste the output of: python -m tests.hostile.matrix"
