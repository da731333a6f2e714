"""ChipGrid.containing / ChipGrid.intersecting against a brute-force scan over every chip."""

from __future__ import annotations

from affine import Affine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from samscape.geo import ChipGrid, PixelGrid

UTM = CRS.from_epsg(32633)
FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def make_grid(width: int, height: int) -> PixelGrid:
    return PixelGrid(width, height, Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0), UTM)


def brute_containing(chips: ChipGrid, col0: float, row0: float, col1: float, row1: float) -> list[int]:
    """Chips whose window holds the closed rectangle [col0, col1] × [row0, row1]."""
    out = []
    for chip in chips:
        w = chip.window
        if (w.col_off <= col0 and col1 <= w.col_off + w.width
                and w.row_off <= row0 and row1 <= w.row_off + w.height):
            out.append(chip.chip_id)
    return out


def brute_intersecting(chips: ChipGrid, col0: float, row0: float, col1: float, row1: float) -> list[int]:
    """Chips whose window overlaps the open rectangle (col0, col1) × (row0, row1)."""
    out = []
    for chip in chips:
        w = chip.window
        if (w.col_off < col1 and col0 < w.col_off + w.width
                and w.row_off < row1 and row0 < w.row_off + w.height):
            out.append(chip.chip_id)
    return out


def check_same_chips(chips: ChipGrid, found: list, expected_ids: list[int]) -> None:
    # Same chips, row-major order, no duplicates, and each the very chip the grid has at that id.
    assert [c.chip_id for c in found] == expected_ids
    for chip in found:
        assert chip == chips.chip(chip.chip_id)


@st.composite
def grid_and_rect(draw: st.DrawFn) -> tuple[ChipGrid, tuple[float, float, float, float]]:
    size = draw(st.sampled_from([4, 8, 16, 256]))
    stride = draw(st.integers(max(1, size // 4), size))  # a few hundred chips at most
    # Lengths below a chip (single chip, narrower than `size`), exactly a chip, and longer ones
    # whose last chip is shifted back to the grid's edge.
    width = draw(st.integers(1, 4 * size + 7))
    height = draw(st.integers(1, 4 * size + 7))
    chips = ChipGrid(make_grid(width, height), size, stride)

    def coord(length: int) -> st.SearchStrategy[float]:
        # Integers hit chip edges exactly; floats land anywhere, a little past the grid too.
        return st.one_of(st.integers(-2, length + 2).map(float),
                         st.floats(-2.0, length + 2.0, allow_nan=False))

    a, b = draw(coord(width)), draw(coord(width))
    c, d = draw(coord(height)), draw(coord(height))
    return chips, (min(a, b), min(c, d), max(a, b), max(c, d))


@FAST
@given(grid_and_rect())
def test_containing_matches_brute_force(case) -> None:
    chips, rect = case
    check_same_chips(chips, chips.containing(*rect), brute_containing(chips, *rect))


@FAST
@given(grid_and_rect())
def test_intersecting_matches_brute_force(case) -> None:
    chips, rect = case
    check_same_chips(chips, chips.intersecting(*rect), brute_intersecting(chips, *rect))


@FAST
@given(grid_and_rect())
@example((ChipGrid(make_grid(600, 500), 256, 128), (300.0, 10.0, 300.0, 10.0)))
def test_containing_a_point_inside_the_grid_finds_a_chip(case) -> None:
    chips, (col0, row0, _, _) = case
    g = chips.grid
    if 0 <= col0 <= g.width and 0 <= row0 <= g.height:
        found = chips.containing(col0, row0, col0, row0)
        assert found, "every point of the grid lies in some chip"
        assert [c.chip_id for c in found] == brute_containing(chips, col0, row0, col0, row0)


def test_grid_smaller_than_a_chip_has_one_narrow_chip() -> None:
    chips = ChipGrid(make_grid(100, 70), 256, 128)
    (only,) = list(chips)
    assert (only.window.width, only.window.height) == (100, 70)
    assert [c.chip_id for c in chips.containing(0, 0, 100, 70)] == [0]
    assert chips.containing(0, 0, 100.5, 70) == []  # wider than the grid: no chip holds it
    assert [c.chip_id for c in chips.intersecting(99.5, 69.5, 300, 300)] == [0]
    assert chips.intersecting(100, 0, 300, 70) == []  # touches the right edge only


def test_last_chip_shifted_back_to_the_edge() -> None:
    # 600 columns, 256-pixel chips every 128: offsets 0, 128, 256 and the shifted 344.
    chips = ChipGrid(make_grid(600, 300), 256, 128)
    assert chips.col_offsets == [0, 128, 256, 344]
    assert chips.row_offsets == [0, 44]
    # Columns 513..600 are only in the shifted chip (344..600).
    found = chips.containing(520, 100, 599, 110)
    assert {c.window.col_off for c in found} == {344}
    assert {c.window.row_off for c in found} == {0, 44}
    # The rectangle 344..600 exactly fits the shifted chip and no other.
    assert [c.window.col_off for c in chips.containing(344, 44, 600, 300)] == [344]
    # Just left of 344 the shifted chip no longer contains it, but still intersects it.
    assert [c.window.col_off for c in chips.containing(343.9, 50, 500, 60)] == [256, 256]
    assert 344 in {c.window.col_off for c in chips.intersecting(343.9, 50, 500, 60)}
    assert brute_intersecting(chips, 343.9, 50, 500, 60) == [
        c.chip_id for c in chips.intersecting(343.9, 50, 500, 60)]
