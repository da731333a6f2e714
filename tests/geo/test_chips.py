"""chip_offsets and ChipGrid: how a processing grid is cut into model-sized chips."""

from __future__ import annotations

import math

import pytest
import rasterio.windows
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS
from shapely.ops import unary_union

from samscape.geo import Chip, ChipGrid, PixelGrid, Window, chip_count, chip_offsets

UTM = CRS.from_epsg(32633)


def make_grid(width: int, height: int, res: float = 0.5) -> PixelGrid:
    return PixelGrid(width, height, Affine(res, 0, 500000.0, 0, -res, 4000000.0), UTM)


# --- chip_offsets -------------------------------------------------------------------------------


def test_offsets_exact_multiple_non_overlapping() -> None:
    assert chip_offsets(1024, 256, 256) == [0, 256, 512, 768]


def test_offsets_exact_multiple_half_stride() -> None:
    assert chip_offsets(1024, 256, 128) == [0, 128, 256, 384, 512, 640, 768]


def test_offsets_fractional_length_last_chip_shifted_to_edge() -> None:
    # 1000 is not a multiple of 256: the last chip is moved back to end exactly at 1000, no padding.
    assert chip_offsets(1000, 256, 256) == [0, 256, 512, 744]
    assert chip_offsets(1000, 256, 128) == [0, 128, 256, 384, 512, 640, 744]


def test_offsets_one_pixel_more_than_a_chip() -> None:
    assert chip_offsets(257, 256, 128) == [0, 1]
    assert chip_offsets(257, 256, 256) == [0, 1]


def test_offsets_raster_smaller_than_chip_gives_one_chip() -> None:
    assert chip_offsets(100, 256, 128) == [0]
    assert chip_offsets(1, 256, 1) == [0]


def test_offsets_raster_of_exactly_one_chip() -> None:
    assert chip_offsets(256, 256, 128) == [0]
    assert chip_offsets(256, 256, 256) == [0]


def test_offsets_no_chip_needs_padding() -> None:
    for length in (300, 513, 999):
        offsets = chip_offsets(length, 256, 100)
        assert all(o + 256 <= length for o in offsets)
        assert offsets[-1] + 256 == length


@pytest.mark.parametrize(
    ("length", "size", "stride"), [(0, 256, 128), (-5, 256, 128), (100, 0, 1), (100, 10, 0), (100, 10, -1)]
)
def test_offsets_non_positive_arguments_raise(length: int, size: int, stride: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        chip_offsets(length, size, stride)


@st.composite
def axis(draw: st.DrawFn) -> tuple[int, int, int]:
    size = draw(st.integers(1, 300))
    stride = draw(st.integers(1, size))
    length = draw(st.integers(1, 3000))
    return length, size, stride


@given(axis())
def test_offsets_properties(args: tuple[int, int, int]) -> None:
    length, size, stride = args
    offsets = chip_offsets(length, size, stride)
    assert offsets[0] == 0
    assert all(b > a for a, b in zip(offsets, offsets[1:], strict=False)), "strictly increasing"
    assert all(b - a <= stride for a, b in zip(offsets, offsets[1:], strict=False)), "gap above stride"
    if length > size:
        assert offsets[-1] + size == length
        assert len(offsets) == math.ceil((length - size) / stride) + 1
    else:
        assert offsets == [0]
    chip_len = min(size, length)
    assert all(0 <= o and o + chip_len <= length for o in offsets), "a chip leaves the axis"
    covered = [False] * length
    for o in offsets:
        covered[o : o + chip_len] = [True] * chip_len
    assert all(covered), "a pixel is in no chip"


# --- ChipGrid -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stride", [0, -1, 257, 1000])
def test_chipgrid_invalid_stride_raises(stride: int) -> None:
    with pytest.raises(ValueError, match="stride must be in 1..256"):
        ChipGrid(make_grid(600, 500), 256, stride)


def test_chipgrid_stride_equal_to_size_is_allowed() -> None:
    chips = ChipGrid(make_grid(512, 256), 256, 256)
    assert chips.shape == (1, 2)
    assert [c.window for c in chips] == [Window(0, 0, 256, 256), Window(256, 0, 256, 256)]


def test_chipgrid_shape_and_offsets() -> None:
    chips = ChipGrid(make_grid(600, 500), 256, 128)
    assert chips.col_offsets == [0, 128, 256, 344]
    assert chips.row_offsets == [0, 128, 244]
    assert chips.shape == (3, 4)
    assert len(chips) == 12
    assert len(list(chips)) == 12


def test_chipgrid_ids_are_row_major() -> None:
    chips = ChipGrid(make_grid(600, 500), 256, 128)
    listed = list(chips)
    assert [c.chip_id for c in listed] == list(range(12))
    assert [(c.row, c.col) for c in listed] == [(r, c) for r in range(3) for c in range(4)]
    for c in listed:
        assert c.window.col_off == chips.col_offsets[c.col]
        assert c.window.row_off == chips.row_offsets[c.row]
        assert (c.window.width, c.window.height) == (256, 256)
    # Row-major: along the first row the column offset grows, then the next row starts at column 0.
    assert listed[4].window == Window(0, 128, 256, 256)


def test_chipgrid_chip_by_id_equals_iteration() -> None:
    chips = ChipGrid(make_grid(700, 450), 200, 150)
    listed = list(chips)
    assert len(listed) == len(chips)
    for i, expected in enumerate(listed):
        got = chips.chip(i)
        assert isinstance(got, Chip)
        assert got == expected


@pytest.mark.parametrize("chip_id", [-1, 12, 100])
def test_chipgrid_chip_out_of_range_raises(chip_id: int) -> None:
    chips = ChipGrid(make_grid(600, 500), 256, 128)
    with pytest.raises(IndexError, match="12 chips"):
        chips.chip(chip_id)


def test_chipgrid_grid_smaller_than_chip_gives_one_smaller_chip() -> None:
    grid = make_grid(100, 70)
    chips = ChipGrid(grid, 256, 128)
    assert chips.shape == (1, 1)
    (chip,) = list(chips)
    assert chip.window == Window(0, 0, 100, 70)
    assert chip.grid == grid
    assert chip.footprint.equals(grid.footprint)


def test_chipgrid_grid_smaller_than_chip_in_one_axis() -> None:
    chips = ChipGrid(make_grid(600, 100), 256, 256)
    assert chips.shape == (1, 3)
    assert [c.window for c in chips] == [
        Window(0, 0, 256, 100),
        Window(256, 0, 256, 100),
        Window(344, 0, 256, 100),
    ]


def test_chipgrid_grid_of_exactly_one_chip() -> None:
    grid = make_grid(256, 256)
    chips = ChipGrid(grid, 256, 128)
    assert len(chips) == 1
    assert chips.chip(0).window == Window(0, 0, 256, 256)
    assert chips.chip(0).grid == grid


def test_chipgrid_last_chip_ends_at_the_edge() -> None:
    grid = make_grid(600, 500)
    chips = ChipGrid(grid, 256, 256)
    last = chips.chip(len(chips) - 1)
    assert last.window.col_off + last.window.width == 600
    assert last.window.row_off + last.window.height == 500
    assert last.grid.bounds.xmax == pytest.approx(grid.bounds.xmax)
    assert last.grid.bounds.ymin == pytest.approx(grid.bounds.ymin)
    assert last.grid.width == 256 and last.grid.height == 256


@pytest.mark.parametrize(("width", "height", "size", "stride"), [(600, 500, 256, 128), (777, 333, 128, 100)])
def test_chip_transforms_match_rasterio(width: int, height: int, size: int, stride: int) -> None:
    grid = PixelGrid(width, height, Affine(0.3, 0, 412345.6, 0, -0.3, 3987654.3), UTM)
    for chip in ChipGrid(grid, size, stride):
        w = chip.window
        expected = rasterio.windows.transform(
            rasterio.windows.Window(w.col_off, w.row_off, w.width, w.height), grid.transform
        )
        assert chip.transform.almost_equals(expected, precision=1e-9)
        assert chip.grid.crs == grid.crs
        assert (chip.grid.width, chip.grid.height) == (w.width, w.height)
        assert chip.grid.res == pytest.approx(grid.res)


@pytest.mark.parametrize(("width", "height", "size", "stride"), [(600, 500, 256, 128), (300, 900, 256, 256)])
def test_union_of_chip_footprints_is_the_grid_footprint(
    width: int, height: int, size: int, stride: int
) -> None:
    grid = make_grid(width, height)
    chips = ChipGrid(grid, size, stride)
    union = unary_union([c.footprint for c in chips])
    assert union.area == pytest.approx(grid.footprint.area, rel=1e-9)
    assert union.symmetric_difference(grid.footprint).area == pytest.approx(0, abs=1e-6)
    for chip in chips:
        assert grid.footprint.buffer(1e-6).contains(chip.footprint)
        assert chip.footprint.area == pytest.approx(size * size * 0.25)


@settings(deadline=None, max_examples=60)
@given(length=st.integers(1, 800), size=st.integers(16, 600), stride_frac=st.floats(0.2, 1.0))
def test_chip_count_and_lookup_by_id_agree_with_the_listed_grid(length, size, stride_frac):
    stride = max(1, math.floor(size * stride_frac))
    assert chip_count(length, size, stride) == len(chip_offsets(length, size, stride))
    grid = ChipGrid(PixelGrid(length, max(1, length // 3), Affine(1, 0, 0, 0, -1, 0),
                              CRS.from_epsg(32633)), size, stride)
    listed = list(grid)
    assert len(grid) == len(listed)
    for chip_id in {0, len(listed) // 2, len(listed) - 1}:
        assert grid.chip(chip_id) == listed[chip_id]


def test_the_chip_count_of_a_huge_grid_is_instant():
    huge = PixelGrid(2**31 - 1, 2**31 - 1, Affine(1, 0, 0, 0, -1, 0), CRS.from_epsg(32633))
    assert len(ChipGrid(huge, 1024, 512)) == 4194303**2
