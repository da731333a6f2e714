"""Prompts in grid pixels, the chips an object starts from, and prompts in a chip's pixels."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from samscape.geo import ChipGrid, PixelGrid
from samscape.segment import PromptSet, Segmenter
from samscape.segment.placement import PixelPrompts, _needed, in_chip, margin, seed_chips

UTM = CRS.from_epsg(32633)
FAST = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def make_grid(width: int, height: int) -> PixelGrid:
    return PixelGrid(width, height, Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0), UTM)


def pixel_prompts(points: list[tuple[float, float, int]], box=None) -> PixelPrompts:
    pts = np.array([(x, y) for x, y, _ in points], dtype=float).reshape(-1, 2)
    labels = np.array([lab for _, _, lab in points], dtype=np.int64)
    return PixelPrompts(pts, labels, None if box is None else np.array(box, dtype=float))


def inside(chip, x: float, y: float) -> bool:
    """Pixel (x, y) lies in the chip: x in [col_off, col_off + width), the same for y."""
    w = chip.window
    return w.col_off <= x < w.col_off + w.width and w.row_off <= y < w.row_off + w.height


def holds(chip, xmin: float, ymin: float, xmax: float, ymax: float) -> bool:
    w = chip.window
    return (w.col_off <= xmin and xmax <= w.col_off + w.width
            and w.row_off <= ymin and ymax <= w.row_off + w.height)


# --- PixelPrompts ---------------------------------------------------------------------------------


def test_from_prompts_gives_continuous_pixel_coordinates() -> None:
    grid = make_grid(600, 500)
    prompts = (PromptSet(UTM).add_point(500000.25, 3999999.75).add_point(500100.0, 3999950.0, 0)
               .with_box((500010.0, 3999900.0, 500020.0, 3999990.0)))
    px = PixelPrompts.from_prompts(prompts, grid)
    np.testing.assert_allclose(px.points, [[0.5, 0.5], [200.0, 100.0]])
    np.testing.assert_array_equal(px.labels, [1, 0])
    # The box's y axis is flipped by the north-up transform: rows of ymax come first.
    np.testing.assert_allclose(px.box, [20.0, 20.0, 40.0, 200.0])
    assert px.bounds() == pytest.approx((0.5, 0.5, 200.0, 200.0))


def test_outside_is_half_open_for_points_and_overlap_for_boxes() -> None:
    assert not pixel_prompts([(0, 0, 1), (599.999, 499.999, 1)]).outside(600, 500)
    assert pixel_prompts([(600, 10, 1)]).outside(600, 500)
    assert pixel_prompts([(10, 500, 1)]).outside(600, 500)
    assert pixel_prompts([(-0.001, 10, 0)]).outside(600, 500)
    # A box that overlaps the grid is fine; one that only touches or misses it is not.
    assert not pixel_prompts([], box=(-50, -50, 10, 10)).outside(600, 500)
    assert pixel_prompts([], box=(-50, -50, 0, 10)).outside(600, 500)
    assert pixel_prompts([], box=(600, 0, 700, 10)).outside(600, 500)


# --- in_chip --------------------------------------------------------------------------------------


def test_in_chip_uses_chip_pixel_indices_and_drops_points_of_other_chips() -> None:
    chips = ChipGrid(make_grid(600, 500), 256, 128)
    chip = chips.chip(5)  # row 1, col 1: window cols 128..384, rows 128..384
    assert (chip.window.col_off, chip.window.row_off) == (128, 128)
    px = pixel_prompts([(130.5, 140.25, 1), (10.0, 10.0, 1), (383.5, 383.5, 0)])
    cp = in_chip(px, chip)
    # SAM's pixel indices: the centre of chip pixel (i, j) is (i, j) = continuous - 0.5.
    np.testing.assert_allclose(cp.points, [[2.0, 11.75], [255.0, 255.0]])
    np.testing.assert_array_equal(cp.labels, [1, 0])
    assert cp.box is None and cp.chip == chip
    assert not cp.single_point


def test_in_chip_adds_extra_points_as_foreground() -> None:
    chip = ChipGrid(make_grid(600, 500), 256, 128).chip(0)
    cp = in_chip(pixel_prompts([(5.5, 5.5, 0)]), chip, extra=np.array([[100.5, 50.5]]))
    np.testing.assert_allclose(cp.points, [[5.0, 5.0], [100.0, 50.0]])
    np.testing.assert_array_equal(cp.labels, [0, 1])


def test_in_chip_clips_the_box_to_the_chip() -> None:
    chips = ChipGrid(make_grid(600, 500), 256, 128)
    chip = chips.chip(1)  # cols 128..384, rows 0..256
    cp = in_chip(pixel_prompts([], box=(100.0, 200.0, 300.0, 400.0)), chip)
    np.testing.assert_allclose(cp.box, [128 - 128 - 0.5, 200 - 0.5, 300 - 128 - 0.5, 256 - 0.5])
    assert len(cp.points) == 0 and not cp.single_point


def test_in_chip_is_none_without_anything_marking_an_object() -> None:
    chip = ChipGrid(make_grid(600, 500), 256, 128).chip(0)
    assert in_chip(pixel_prompts([(10.5, 10.5, 0)]), chip) is None  # background only
    assert in_chip(pixel_prompts([(400.5, 10.5, 1)]), chip) is None  # foreground elsewhere
    # A box overlapping the chip by less than a pixel does not count either.
    assert in_chip(pixel_prompts([], box=(255.5, 10.0, 300.0, 20.0)), chip) is None
    assert in_chip(pixel_prompts([], box=(255.0, 10.0, 300.0, 20.0)), chip) is not None


# --- seed chips: brute force ----------------------------------------------------------------------


@st.composite
def placement_case(draw: st.DrawFn):
    size = draw(st.sampled_from([16, 32, 256]))
    stride = draw(st.integers(max(1, size // 4), size))
    width = draw(st.integers(1, 5 * size))
    height = draw(st.integers(1, 5 * size))
    chips = ChipGrid(make_grid(width, height), size, stride)
    # Clicks inside pixels (never exactly on a pixel edge).
    frac = st.floats(0.01, 0.99)

    def point(label: int):
        return st.tuples(st.integers(0, width - 1), frac, st.integers(0, height - 1), frac).map(
            lambda t: (t[0] + t[1], t[2] + t[3], label))

    fg = draw(st.lists(point(1), min_size=1, max_size=4))
    bg = draw(st.lists(point(0), max_size=2))
    points = draw(st.permutations(fg + bg))
    missing = draw(st.sets(st.integers(0, len(chips) - 1), max_size=max(0, len(chips) // 3)))
    return chips, pixel_prompts(points), missing


@FAST
@given(placement_case())
def test_seed_is_the_chip_holding_every_prompt_with_the_widest_margin(case) -> None:
    chips, px, missing = case
    has_chip = lambda cid: cid not in missing  # noqa: E731
    seeds, uncovered = seed_chips(px, chips, has_chip)
    bounds = _needed(px, chips.grid.width, chips.grid.height)  # whole pixels under the points
    whole = [c for c in chips if has_chip(c.chip_id) and holds(c, *bounds)]
    event("one chip holds all" if whole else f"{min(len(seeds), 3)}+ seeds, {len(uncovered)} uncovered")
    if whole:
        assert len(seeds) == 1 and len(uncovered) == 0
        (seed,) = seeds
        assert holds(seed, *bounds)
        assert has_chip(seed.chip_id)
        assert margin(seed, *bounds) == max(margin(c, *bounds) for c in whole)
        # Every prompt point is given to the seed chip, in its pixel indices.
        cp = in_chip(px, seed)
        assert cp is not None and len(cp.points) == len(px.points)
        return
    # No single chip holds them: a cover of the foreground points by several chips.
    anchors = px.points[px.labels == 1]
    ids = [s.chip_id for s in seeds]
    assert len(ids) == len(set(ids))
    assert all(has_chip(i) for i in ids)
    for x, y in anchors:
        covered = any(inside(s, x, y) for s in seeds)
        coverable = any(inside(c, x, y) for c in chips if has_chip(c.chip_id))
        assert covered == coverable
        assert covered or any((u == (x, y)).all() for u in uncovered)
    if seeds:
        # Greedy: the first seed holds as many anchors as any available chip.
        best = max(sum(inside(c, x, y) for x, y in anchors) for c in chips if has_chip(c.chip_id))
        assert sum(inside(seeds[0], x, y) for x, y in anchors) == best
    fg_bounds = (*anchors.min(axis=0), *anchors.max(axis=0))
    if len(uncovered) == 0 and not any(holds(c, *fg_bounds) for c in chips if has_chip(c.chip_id)):
        assert len(seeds) >= 2


def test_a_box_larger_than_a_chip_starts_from_the_chip_around_its_centre() -> None:
    chips = ChipGrid(make_grid(1000, 800), 256, 128)
    px = pixel_prompts([], box=(100.0, 90.0, 700.0, 610.0))  # centre (400, 350)
    seeds, uncovered = seed_chips(px, chips, lambda cid: True)
    assert len(uncovered) == 0
    (seed,) = seeds  # its corners are reached by continuation, as far as the object goes
    assert inside(seed, 400, 350)
    assert margin(seed, 400, 350, 400, 350) == max(
        margin(c, 400, 350, 400, 350) for c in chips if inside(c, 400, 350))
    # With a foreground point far from the centre, both are covered.
    seeds, _ = seed_chips(pixel_prompts([(110.5, 600.5, 1)], box=(100.0, 90.0, 700.0, 610.0)),
                          chips, lambda cid: True)
    assert any(inside(s, 400, 350) for s in seeds) and any(inside(s, 110.5, 600.5) for s in seeds)


def test_far_apart_prompts_give_several_seeds_and_no_error(source) -> None:
    seg = Segmenter(source)
    g = source.grid
    prompts = (PromptSet(source.crs).add_point(*(g.transform @ (20.5, 20.5)))
               .add_point(*(g.transform @ (580.5, 480.5))))
    pixels, seeds = seg.locate(prompts)
    assert len(seeds) >= 2
    for x, y in pixels.points:
        assert any(inside(s, x, y) for s in seeds)
    # No chip of the grid holds both.
    assert source.chips.containing(*pixels.bounds()) == []


def test_nearby_prompts_give_the_single_best_chip(source) -> None:
    seg = Segmenter(source)
    g = source.grid
    prompts = (PromptSet(source.crs).add_point(*(g.transform @ (250.5, 240.5)))
               .add_point(*(g.transform @ (260.5, 250.5)), label=0))
    pixels, seeds = seg.locate(prompts)
    bounds = pixels.bounds()
    holding = [c for c in source.chips if holds(c, *bounds)]
    assert len(holding) > 1
    assert len(seeds) == 1
    assert margin(seeds[0], *bounds) == max(margin(c, *bounds) for c in holding)
    assert len(in_chip(pixels, seeds[0]).points) == 2


def test_point_on_a_chip_edge_belongs_to_the_pixel_beyond_it(source) -> None:
    # x = 500128 m is pixel column 256.0: the first pixel of chip 1, just past chip 0 (0..255).
    seg = Segmenter(source)
    prompts = PromptSet(source.crs).add_point(500000.1, 3999995.0).add_point(500128.0, 3999995.0)
    pixels, seeds = seg.locate(prompts)
    np.testing.assert_allclose(pixels.points, [[0.2, 10.0], [256.0, 10.0]])
    assert len(seeds) == 2
    given = [cp.points[i] + (cp.chip.window.col_off + 0.5, cp.chip.window.row_off + 0.5)
             for cp in (in_chip(pixels, s) for s in seeds) for i in range(len(cp.points))]
    for point in pixels.points:
        assert any(np.allclose(point, g) for g in given), f"{point} was given to no seed chip"


def test_far_apart_prompts_with_one_on_a_chip_edge_are_located(source) -> None:
    seg = Segmenter(source)
    prompts = PromptSet(source.crs).add_point(500128.0, 3999995.0).add_point(500295.0, 3999755.0)
    pixels, seeds = seg.locate(prompts)
    assert len(seeds) >= 2
    for x, y in pixels.points:
        assert any(inside(s, x, y) for s in seeds)
