"""The Segmenter on real feature folders: georeferencing, errors, results, batches."""

from __future__ import annotations

import re

import numpy as np
import pytest
import rasterio.features
import rasterio.warp
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_points
from rasterio.warp import transform_bounds

from samscape.errors import PromptError, SettingsError
from samscape.segment import PromptSet, Segmenter
from samscape.segment.placement import PixelPrompts, in_chip
from samscape.segment.segmenter import _component_at, _connected, _in_box
from samscape.sources import open_source
from samscape.vector import VectorOptions

GEO_TRANSFORM = Affine(1e-5, 0, 15.0, 0, -1e-5, 45.0)

CASES = {
    # source CRS, source transform, CRS the prompts are given in
    "utm-source-lonlat-prompts": ("EPSG:32633", None, "EPSG:4326"),
    "lonlat-source-webmercator-prompts": ("EPSG:4326", GEO_TRANSFORM, "EPSG:3857"),
}


@pytest.fixture(params=list(CASES))
def georef_case(request, make_raster, encode_folder):
    crs, transform, prompt_crs = CASES[request.param]
    folder = encode_folder(make_raster(crs=crs, transform=transform))
    with open_source(folder) as src:
        yield src, CRS.from_user_input(prompt_crs)


def ground_points(grid, n: int = 12, seed: int = 1) -> list[tuple[float, float]]:
    """Map positions (grid CRS) of random spots inside the grid, and of its corners' pixels."""
    rng = np.random.default_rng(seed)
    cols = np.concatenate([rng.uniform(0.1, grid.width - 0.1, n), [0.3, grid.width - 0.3]])
    rows = np.concatenate([rng.uniform(0.1, grid.height - 0.1, n), [0.3, grid.height - 0.3]])
    return [grid.transform @ (c, r) for c, r in zip(cols, rows, strict=True)]


def test_prompt_lands_on_its_ground_position_in_every_chip_that_holds_it(georef_case) -> None:
    src, prompt_crs = georef_case
    grid = src.grid
    seg = Segmenter(src)
    for x, y in ground_points(grid):
        (px,), (py,) = warp_points(src.crs, prompt_crs, [x], [y])
        prompts = PromptSet(prompt_crs).add_point(px, py)
        pixels = PixelPrompts.from_prompts(prompts.to_crs(src.crs), grid)
        _, seeds = seg.locate(prompts)
        holding = [c for c in src.chips if in_chip(pixels, c) is not None]
        assert seeds[0] in holding
        for chip in holding:
            (cx, cy), = in_chip(pixels, chip).points
            # SAM pixel indices are continuous - 0.5; back through the chip's own transform.
            gx, gy = chip.transform @ (cx + 0.5, cy + 0.5)
            assert abs(gx - x) < 0.01 * grid.res[0] and abs(gy - y) < 0.01 * grid.res[1]
            # ... and the chip pixel holding it is the grid pixel the ground position is in.
            col, row = ~grid.transform @ (x, y)
            assert (int(cx + 0.5) + chip.window.col_off, int(cy + 0.5) + chip.window.row_off) == (
                int(col), int(row))


def test_result_transform_maps_mask_pixels_to_their_grid_pixels(georef_case) -> None:
    src, prompt_crs = georef_case
    grid = src.grid
    x, y = grid.transform @ (301.5, 170.5)
    (px,), (py,) = warp_points(src.crs, prompt_crs, [x], [y])
    result = Segmenter(src, max_chips=1).segment(PromptSet(prompt_crs).add_point(px, py))
    w = result.window
    assert w.col_off > 0, "the seed chip is not at the grid's origin: the offset matters"
    assert result.mask.shape == (w.height, w.width)
    assert result.crs == src.crs
    for row, col in [(0, 0), (w.height - 1, w.width - 1), (w.height // 2, 7), (3, w.width // 3)]:
        centre = result.transform @ (col + 0.5, row + 0.5)
        expected = grid.transform @ (w.col_off + col + 0.5, w.row_off + row + 0.5)
        assert centre == pytest.approx(expected, abs=1e-6 * grid.res[0])
    # The prompt's own pixel is in the mask's window, where the grid says it is.
    col, row = ~result.transform @ (x, y)
    assert (int(col) + w.col_off, int(row) + w.row_off) == (301, 170)
    # The result keeps the prompts, in the source CRS.
    (point,) = result.prompts.points
    assert result.prompts.crs == src.crs
    assert (point.x, point.y) == pytest.approx((x, y), abs=1e-3 * grid.res[0])


def test_polygons_are_the_mask_on_the_ground(source) -> None:
    g = source.grid
    result = Segmenter(source, VectorOptions(min_pixels=0), max_chips=3).segment(  # specks kept
        PromptSet(source.crs).add_point(*(g.transform @ (200.5, 300.5))))
    assert result.polygons, "random weights still give some mask here"
    areas = [p.area for p in result.polygons]
    assert areas == sorted(areas, reverse=True)
    burnt = rasterio.features.rasterize(
        [(p, 1) for p in result.polygons], out_shape=result.mask.shape, transform=result.transform,
        fill=0, dtype="uint8").astype(bool)
    np.testing.assert_array_equal(burnt, result.mask)
    assert sum(areas) == pytest.approx(result.mask.sum() * g.res[0] * g.res[1])


def test_prompt_outside_the_source_names_its_extent_in_the_prompt_crs(source) -> None:
    seg = Segmenter(source)
    wgs = CRS.from_epsg(4326)
    lon0, lat0, lon1, lat1 = transform_bounds(source.crs, wgs, *source.grid.bounds)
    with pytest.raises(PromptError) as info:
        seg.segment(PromptSet(wgs).add_point(lon1 + 0.01, (lat0 + lat1) / 2))
    message = str(info.value)
    assert "outside the source" in message and "EPSG:4326" in message
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d{6}", message)]
    assert numbers == pytest.approx([lon0, lat0, lon1, lat1], abs=2e-6)
    # In the source's own CRS, the extent is in metres.
    with pytest.raises(PromptError, match=r"500000\.00, 3999750\.00, 500300\.00, 4000000\.00"):
        seg.segment(PromptSet(source.crs).add_point(499999.0, 3999900.0))


def test_box_entirely_outside_is_refused_and_one_overlapping_is_not(source) -> None:
    seg = Segmenter(source, max_chips=1)
    with pytest.raises(PromptError, match="outside"):
        seg.segment(PromptSet(source.crs).with_box((500300.0, 3999800.0, 500400.0, 3999900.0)))
    result = seg.segment(PromptSet(source.crs).with_box((500250.0, 3999800.0, 500400.0, 3999900.0)))
    assert result.prompts.box is not None and len(result.chip_ids) == 1


def test_empty_prompts_are_refused(source) -> None:
    seg = Segmenter(source)
    with pytest.raises(PromptError, match="foreground point or a box"):
        seg.segment(PromptSet(source.crs))
    with pytest.raises(PromptError, match="foreground point or a box"):
        seg.segment(PromptSet(source.crs).add_point(500100.0, 3999900.0, label=0))


def test_max_chips_must_be_positive(source) -> None:
    for bad in (0, "3", 2.5, None, True):
        with pytest.raises(SettingsError, match="max chips"):
            Segmenter(source, max_chips=bad)


def test_arguments_of_another_kind_are_named(source) -> None:
    from samscape.segment import Session

    with pytest.raises(SettingsError, match="takes an open source, not str"):
        Segmenter("features")
    with pytest.raises(SettingsError, match="VectorOptions"):
        Segmenter(source, vector={"mode": "pixel"})
    with pytest.raises(SettingsError, match="takes a Segmenter"):
        Session(source)
    with pytest.raises(SettingsError, match="must be an OutputLayer, not str"):
        Session(Segmenter(source), layer="out.gpkg")


def test_prompt_on_chips_that_are_all_nodata_is_refused(make_raster, encode_folder) -> None:
    data = np.full((3, 500, 600), 120, dtype="uint8")
    data[:, :, 300:] = 0  # nodata right half: the chips starting at column 344 are skipped
    folder = encode_folder(make_raster(data=data, nodata=0))
    with open_source(folder) as src:
        assert {src.chips.chip(i).window.col_off for i in src.folder.metadata.skipped_chip_ids} == {344}
        seg = Segmenter(src, max_chips=2)
        g = src.grid
        with pytest.raises(PromptError, match="is nodata .no chip there holds features.; prompt where"):
            seg.segment(PromptSet(src.crs).add_point(*(g.transform @ (590.5, 200.5))))
        # Column 450 is also in the chips starting at 256, which have features.
        result = seg.segment(PromptSet(src.crs).add_point(*(g.transform @ (450.5, 200.5))))
        assert src.chips.chip(result.chip_ids[0]).window.col_off == 256


def test_seed_chip_comes_first_and_chips_are_unique(source) -> None:
    g = source.grid
    seg = Segmenter(source, max_chips=4)
    prompts = PromptSet(source.crs).add_point(*(g.transform @ (300.5, 250.5)))
    _, seeds = seg.locate(prompts)
    result = seg.segment(prompts)
    assert result.chip_ids[0] == seeds[0].chip_id
    assert 1 <= len(result.chip_ids) <= 4
    assert len(set(result.chip_ids)) == len(result.chip_ids)
    # The mask covers exactly the union of the windows of the chips it was decoded in.
    windows = [source.chips.chip(i).window for i in result.chip_ids]
    w = result.window
    assert w.col_off == min(v.col_off for v in windows)
    assert w.row_off == min(v.row_off for v in windows)
    assert w.col_off + w.width == max(v.col_off + v.width for v in windows)
    assert w.row_off + w.height == max(v.row_off + v.height for v in windows)


def test_max_chips_one_decodes_only_the_seed(source) -> None:
    g = source.grid
    seg = Segmenter(source, max_chips=1)
    prompts = PromptSet(source.crs).add_point(*(g.transform @ (300.5, 250.5)))
    result = seg.segment(prompts)
    (chip_id,) = result.chip_ids
    assert result.window == source.chips.chip(chip_id).window


def test_prompts_in_far_apart_chips_are_all_decoded(source) -> None:
    g = source.grid
    spots = [(20.5, 20.5), (580.5, 480.5)]
    prompts = PromptSet(source.crs)
    for spot in spots:
        prompts = prompts.add_point(*(g.transform @ spot))
    for max_chips in (2, 9):
        result = Segmenter(source, max_chips=max_chips).segment(prompts)
        assert len(result.chip_ids) <= max_chips
        chips = [source.chips.chip(i) for i in result.chip_ids]
        for x, y in spots:
            assert any(c.window.col_off <= x < c.window.col_off + c.window.width
                       and c.window.row_off <= y < c.window.row_off + c.window.height
                       for c in chips), (x, y, result.chip_ids)
        assert result.window.col_off == 0 and result.window.row_off == 0
        assert (result.window.width, result.window.height) == (600, 500)


def test_segmenting_is_deterministic_and_segment_many_keeps_order(source) -> None:
    g = source.grid
    seg = Segmenter(source, vector=VectorOptions(max_polygon_only=True), max_chips=3)
    objects = [
        PromptSet(source.crs).add_point(*(g.transform @ (500.5, 400.5))),
        PromptSet(source.crs).add_point(*(g.transform @ (20.5, 30.5))),
        PromptSet(source.crs).with_box((500020.0, 3999850.0, 500060.0, 3999900.0)),
        PromptSet(source.crs).add_point(*(g.transform @ (30.5, 20.5)))
        .add_point(*(g.transform @ (40.5, 25.5)), label=0),
    ]
    single = [seg.segment(p) for p in objects]
    many = seg.segment_many(objects)
    assert len(many) == len(objects)
    for a, b, prompts in zip(single, many, objects, strict=True):
        assert b.prompts == prompts
        assert a.window == b.window and a.chip_ids == b.chip_ids and a.score == b.score
        np.testing.assert_array_equal(a.mask, b.mask)
        assert [p.wkb for p in a.polygons] == [p.wkb for p in b.polygons]
        assert len(b.polygons) <= 1


def test_segment_many_checks_every_prompt_before_decoding(source) -> None:
    g = source.grid
    seg = Segmenter(source)
    good = PromptSet(source.crs).add_point(*(g.transform @ (10.5, 10.5)))
    bad = PromptSet(source.crs).add_point(0.0, 0.0)
    with pytest.raises(PromptError, match="outside"):
        seg.segment_many([good, bad])


def test_box_smaller_than_a_pixel_gives_an_empty_result(source) -> None:
    result = Segmenter(source).segment(
        PromptSet(source.crs).with_box((500010.0, 3999990.0, 500010.2, 3999990.2)))
    assert result.is_empty and result.polygons == () and result.chip_ids == ()
    assert not result.mask.any()


def test_empty_result_mask_spans_its_window(source) -> None:
    result = Segmenter(source).segment(
        PromptSet(source.crs).with_box((500010.0, 3999990.0, 500010.2, 3999990.2)))
    assert result.mask.shape == (result.window.height, result.window.width)


def test_connected_keeps_the_parts_that_meet_the_anchor() -> None:
    mask = np.zeros((20, 20), bool)
    mask[2:6, 2:6] = mask[10:15, 10:15] = True
    mask[5, 6:9] = True  # joined to the first square
    anchor = np.zeros_like(mask)
    anchor[3, 3] = True
    kept = _connected(mask, anchor)
    assert kept[2:6, 2:6].all() and kept[5, 6:9].all() and not kept[10:15, 10:15].any()
    assert not _connected(mask, ~mask).any()  # an anchor off the mask keeps nothing


def test_in_box_drops_neighbours_mostly_outside_but_never_the_boxed_part() -> None:
    mask = np.zeros((40, 40), bool)
    mask[10:20, 10:20] = True  # the object, inside the box
    mask[18:30, 22:34] = True  # a neighbour poking into the box's corner
    mask[12:14, 23:25] = True  # a small part wholly inside
    box = np.array([9.5, 9.5, 25.5, 25.5])  # pixels 10..25
    kept = _in_box(mask, box)
    assert kept[10:20, 10:20].all() and kept[12:14, 23:25].all()
    assert not kept[18:30, 22:34].any()
    # A box over a corner of a large object keeps the object.
    big = np.zeros((40, 40), bool)
    big[5:40, 5:40] = True
    assert np.array_equal(_in_box(big, np.array([30.0, 30.0, 39.0, 39.0])), big)


def test_component_at_equals_labelling_the_whole_mask() -> None:
    # labelled over the bounding box only: the same part as labelling the whole chip
    from scipy.ndimage import label

    rng = np.random.default_rng(5)
    for _ in range(200):
        mask = np.zeros((60, 70), bool)
        r, c = rng.integers(0, 40, 2)
        mask[r:r + 20, c:c + 30] = rng.random((20, 30)) < rng.uniform(0.3, 0.9)
        if not mask.any():
            continue
        row, col = (int(v) for v in np.argwhere(mask)[rng.integers(mask.sum())])
        components, _ = label(mask)
        assert np.array_equal(_component_at(mask, row, col), components == components[row, col])


def test_segment_many_names_the_object_whose_prompt_is_outside(source) -> None:
    inside = PromptSet(source.crs).add_point(*(source.grid.transform @ (100.5, 100.5)))
    outside = PromptSet(source.crs).add_point(*(source.grid.transform @ (-50.5, 100.5)))
    with pytest.raises(PromptError, match=r"^object 2 of 3: a prompt lies outside the source"):
        Segmenter(source).segment_many([inside, outside, inside])
    with pytest.raises(PromptError, match=r"^a prompt lies outside the source"):
        Segmenter(source).segment_many([outside])


def test_latitude_longitude_given_for_longitude_latitude_is_named(source) -> None:
    x, y = source.grid.transform @ (100.5, 100.5)
    (lon,), (lat,) = rasterio.warp.transform(source.crs, "EPSG:4326", [x], [y])
    wgs84 = CRS.from_epsg(4326)
    swapped = PromptSet(wgs84).add_point(lat, lon)
    with pytest.raises(PromptError, match="look like latitude, longitude; give longitude, latitude"):
        Segmenter(source).segment(swapped)
    assert Segmenter(source).segment(swapped.swapped()).polygons
    with pytest.raises(PromptError, match="give prompts inside it"):
        Segmenter(source).segment(PromptSet(wgs84).add_point(lon + 1, lat))


def test_an_object_going_on_past_max_chips_is_flagged_cut_off(demo_root_768) -> None:
    from samscape.demo import generate_scene
    from samscape.demo.evaluate import point_prompt
    from samscape.sources import open_source

    scene = generate_scene(4, 768, 768)
    water = max((o for o in scene.objects if o.cls == "water"), key=lambda o: o.geometry.area)
    with open_source(demo_root_768 / "features") as src:
        whole = Segmenter(src).segment(point_prompt(scene, water.object_id))
        assert len(whole.chip_ids) > 1 and not whole.cut_off
        cut = Segmenter(src, max_chips=1).segment(point_prompt(scene, water.object_id))
        assert cut.chip_ids == whole.chip_ids[:1] and cut.cut_off
