"""Per-chip masks merged without seams: each pixel from the chip where it is most central."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from samscape.geo import ChipGrid, PixelGrid, Window
from samscape.segment.mosaic import ChipMask, centrality, merge
from samscape.vector import mask_to_polygons

UTM = CRS.from_epsg(32633)
RES = 0.5
FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def make_grid(width: int, height: int) -> PixelGrid:
    return PixelGrid(width, height, Affine(RES, 0, 500000.0, 0, -RES, 4000000.0), UTM)


def disc(grid: PixelGrid, cx: float, cy: float, r: float) -> np.ndarray:
    """(H, W) pixels of the grid whose centres are within `r` pixels of (cx, cy)."""
    yy, xx = np.mgrid[0:grid.height, 0:grid.width] + 0.5
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def crop(full: np.ndarray, w: Window) -> np.ndarray:
    return full[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width]


def block(chips: ChipGrid, r0: int, r1: int, c0: int, c1: int) -> list:
    """The chips of rows r0..r1 and columns c0..c1 of the chip grid (inclusive)."""
    cols = chips.shape[1]
    return [chips.chip(r * cols + c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]


def union(windows: list[Window]) -> Window:
    c0 = min(w.col_off for w in windows)
    r0 = min(w.row_off for w in windows)
    return Window(c0, r0, max(w.col_off + w.width for w in windows) - c0,
                  max(w.row_off + w.height for w in windows) - r0)


# --- centrality -----------------------------------------------------------------------------------


def test_centrality_is_the_distance_to_the_nearest_inner_cut() -> None:
    grid = make_grid(600, 500)
    chips = ChipGrid(grid, 256, 128)
    inner = chips.chip(5)  # cols 128..384, rows 128..384: cut on all four sides
    c = centrality(inner, grid)
    assert c.shape == (256, 256) and c.dtype == np.float32
    rows, cols = np.mgrid[0:256, 0:256] + 0.5
    expected = np.minimum(np.minimum(rows, 256 - rows), np.minimum(cols, 256 - cols))
    np.testing.assert_array_equal(c, expected)
    # The top-left chip touches the grid's top and left edges: only its right and bottom are cuts.
    corner = centrality(chips.chip(0), grid)
    np.testing.assert_array_equal(corner, np.minimum(256 - rows, 256 - cols))
    # A chip that is the whole grid has no cut at all.
    small = make_grid(100, 80)
    assert np.isinf(centrality(ChipGrid(small, 256, 128).chip(0), small)).all()


# --- merge ----------------------------------------------------------------------------------------


def test_merge_of_one_part_is_that_part() -> None:
    grid = make_grid(600, 500)
    chip = ChipGrid(grid, 256, 128).chip(6)
    mask = np.random.default_rng(0).random((256, 256)) > 0.5
    window, merged, score = merge([ChipMask(chip, mask, 0.7)], grid)
    assert window == chip.window and merged is mask and score == 0.7


@pytest.mark.parametrize("shape,size,stride", [((600, 500), 256, 128), ((150, 130), 64, 40),
                                               ((97, 61), 32, 32)])
def test_merged_disc_is_the_disc_and_one_polygon_without_seam(shape, size, stride) -> None:
    grid = make_grid(*shape)
    chips = ChipGrid(grid, size, stride)
    rows, cols = chips.shape
    assert rows * cols > 1
    # A disc centred between chips and spanning several of them.
    cx, cy = grid.width * 0.55, grid.height * 0.45
    r = 0.3 * min(grid.width, grid.height)
    full = disc(grid, cx, cy, r)
    parts = [ChipMask(c, crop(full, c.window), 0.5) for c in chips
             if crop(full, c.window).any()]
    assert len(parts) > 1
    window, mask, score = merge(parts, grid)
    assert window == union([p.chip.window for p in parts])
    np.testing.assert_array_equal(mask, crop(full, window))
    assert score == pytest.approx(0.5)
    transform = grid.transform @ Affine.translation(window.col_off, window.row_off)
    polygons = mask_to_polygons(mask, transform)
    assert len(polygons) == 1
    (polygon,) = polygons
    assert polygon.is_valid and not polygon.interiors
    assert polygon.area == pytest.approx(full.sum() * RES * RES)


@st.composite
def merge_case(draw: st.DrawFn):
    size = draw(st.sampled_from([16, 24, 32]))
    stride = draw(st.integers(size // 3, size))
    width = draw(st.integers(size + 1, 4 * size))
    height = draw(st.integers(size + 1, 4 * size))
    chips = ChipGrid(make_grid(width, height), size, stride)
    nr, nc = chips.shape
    r0 = draw(st.integers(0, nr - 1))
    c0 = draw(st.integers(0, nc - 1))
    r1 = draw(st.integers(r0, nr - 1))
    c1 = draw(st.integers(c0, nc - 1))
    seed = draw(st.integers(0, 2**32 - 1))
    return chips, block(chips, r0, r1, c0, c1), seed


@FAST
@given(merge_case())
def test_each_merged_pixel_comes_from_the_chip_where_it_is_most_central(case) -> None:
    chips, chosen, seed = case
    grid = chips.grid
    rng = np.random.default_rng(seed)
    # Chips that disagree: each has its own random mask and score.
    parts = [ChipMask(c, rng.random((c.window.height, c.window.width)) > 0.5, float(rng.random()))
             for c in chosen]
    window, mask, score = merge(parts, grid)
    assert window == union([c.window for c in chosen])
    assert mask.shape == (window.height, window.width) and mask.dtype == bool
    # Brute force: per pixel, the first part of the highest centrality.
    central = np.full((len(parts), grid.height, grid.width), -np.inf)
    values = np.zeros((len(parts), grid.height, grid.width), dtype=bool)
    for i, p in enumerate(parts):
        w = p.chip.window
        crop(central[i], w)[...] = centrality(p.chip, grid)
        crop(values[i], w)[...] = p.mask
    owner = crop(central.argmax(axis=0), window)
    covered = crop((central > -np.inf).any(axis=0), window)
    expected = np.take_along_axis(
        np.stack([crop(v, window) for v in values]), owner[None], axis=0)[0] & covered
    np.testing.assert_array_equal(mask, expected)
    # Score: the parts' scores weighted by the object pixels each one contributes.
    counts = np.bincount(owner[expected], minlength=len(parts))
    scores = np.array([p.score for p in parts])
    want = (counts * scores).sum() / counts.sum() if counts.sum() else scores[0]
    assert score == pytest.approx(want)


def test_merge_of_empty_masks_scores_the_first_part() -> None:
    grid = make_grid(600, 500)
    chips = ChipGrid(grid, 256, 128)
    parts = [ChipMask(c, np.zeros((256, 256), bool), s) for c, s in zip(block(chips, 0, 0, 0, 1),
                                                                         (0.25, 0.75), strict=True)]
    window, mask, score = merge(parts, grid)
    assert window == Window(0, 0, 384, 256)
    assert not mask.any() and score == 0.25


def test_overlap_is_split_down_the_middle() -> None:
    # Two chips side by side (columns 0..256 and 128..384): the left one owns columns up to 192,
    # the right one the rest, whatever each of them says about the other's half.
    grid = make_grid(600, 256)
    chips = ChipGrid(grid, 256, 128)
    left, right = chips.chip(0), chips.chip(1)
    window, mask, _ = merge([ChipMask(left, np.ones((256, 256), bool), 1.0),
                             ChipMask(right, np.zeros((256, 256), bool), 1.0)], grid)
    assert window == Window(0, 0, 384, 256)
    assert mask[:, :192].all() and not mask[:, 192:].any()
