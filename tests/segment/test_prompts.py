"""PromptSet: immutable prompts in map coordinates, validated, reprojected."""

from __future__ import annotations

import dataclasses
import math

import pytest
from rasterio.crs import CRS
from rasterio.warp import transform as warp_points

from samscape.errors import PromptError
from samscape.segment import BACKGROUND, FOREGROUND, Point, PromptSet, make_box

UTM = CRS.from_epsg(32633)
WGS84 = CRS.from_epsg(4326)


def test_add_point_returns_a_new_set_and_leaves_the_old_one_alone() -> None:
    empty = PromptSet(UTM)
    one = empty.add_point(500010, 3999990)
    two = one.add_point(500020, 3999980, label=BACKGROUND)
    assert empty.points == () and empty.is_empty
    assert one.points == (Point(500010.0, 3999990.0, FOREGROUND),)
    assert two.points == (Point(500010.0, 3999990.0, 1), Point(500020.0, 3999980.0, 0))
    assert (two.fg_count, two.bg_count) == (1, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        two.points = ()  # type: ignore[misc]


def test_with_box_replaces_the_box_and_none_removes_it() -> None:
    base = PromptSet(UTM).add_point(500010, 3999990)
    boxed = base.with_box((500000, 3999900, 500100, 4000000))
    assert base.box is None
    assert tuple(boxed.box) == (500000.0, 3999900.0, 500100.0, 4000000.0)
    assert boxed.points == base.points
    reboxed = boxed.with_box((1, 2, 3, 4))
    assert tuple(reboxed.box) == (1.0, 2.0, 3.0, 4.0)
    assert reboxed.with_box(None).box is None


def test_is_empty_needs_a_foreground_point_or_a_box() -> None:
    only_background = PromptSet(UTM).add_point(1, 2, BACKGROUND).add_point(3, 4, BACKGROUND)
    assert only_background.is_empty
    assert (only_background.fg_count, only_background.bg_count) == (0, 2)
    assert not only_background.with_box((0, 0, 1, 1)).is_empty
    assert not only_background.add_point(5, 6).is_empty


@pytest.mark.parametrize("xy", [(math.nan, 1.0), (1.0, math.inf), (-math.inf, 0.0)])
def test_non_finite_point_is_refused(xy: tuple[float, float]) -> None:
    with pytest.raises(PromptError, match="finite"):
        PromptSet(UTM).add_point(*xy)


@pytest.mark.parametrize("label", [2, -1, 3])
def test_bad_label_is_refused(label: int) -> None:
    with pytest.raises(PromptError, match="label"):
        PromptSet(UTM).add_point(1.0, 2.0, label)


@pytest.mark.parametrize("box", [(1, 0, 1, 5), (2, 0, 1, 5), (0, 5, 1, 5), (0, 6, 1, 5),
                                 (0, 0, math.nan, 1), (0, -math.inf, 1, 1)])
def test_bad_box_is_refused(box: tuple[float, ...]) -> None:
    with pytest.raises(PromptError, match="XMIN,YMIN,XMAX,YMAX"):
        make_box(*box)
    with pytest.raises(PromptError):
        PromptSet(UTM).with_box(box)


def test_the_constructor_takes_any_crs_spelling_and_checks_what_it_is_given() -> None:
    import pyproj

    from samscape.errors import SettingsError

    for spelling in (32633, "EPSG:32633", "32633", pyproj.CRS.from_epsg(32633), UTM):
        assert PromptSet(spelling).crs == UTM
    with pytest.raises(SettingsError, match="unknown CRS 'bogus'"):
        PromptSet("bogus")
    made = PromptSet(UTM, [Point(1, 2)], box=[0, 0, 5, 5])
    assert made.points == (Point(1.0, 2.0),) and tuple(made.box) == (0.0, 0.0, 5.0, 5.0)
    assert hash(made) == hash(PromptSet(32633, (Point(1, 2),), (0, 0, 5, 5)))
    for bad in ({"box": (5, 5, 1, 1)}, {"box": (0, 0, math.nan, 1)}, {"box": (1, 2, 3)}, {"box": 5},
                {"points": [1]}, {"points": 3}):
        with pytest.raises(PromptError):
            PromptSet(UTM, **bad)


@pytest.mark.parametrize("value", ["1", None, b"1", True, [1]])
def test_a_coordinate_that_is_no_number_is_refused(value) -> None:
    with pytest.raises(PromptError, match="not a pair of finite numbers"):
        PromptSet(UTM).add_point(value, 2.0)
    with pytest.raises(PromptError, match="XMIN,YMIN,XMAX,YMAX"):
        PromptSet(UTM).with_box((value, 0, 5, 5))


def test_to_crs_same_crs_is_identity() -> None:
    prompts = PromptSet(UTM).add_point(500010, 3999990)
    assert prompts.to_crs(CRS.from_epsg(32633)) is prompts
    assert prompts.to_crs("EPSG:32633") is prompts


def test_to_crs_moves_points_exactly_and_keeps_labels_and_order() -> None:
    pts = [(500010.0, 3999990.0, 1), (500200.0, 3999800.0, 0), (500100.0, 3999900.0, 1)]
    prompts = PromptSet(UTM)
    for x, y, label in pts:
        prompts = prompts.add_point(x, y, label)
    geo = prompts.to_crs("EPSG:4326")
    assert geo.crs == WGS84
    lons, lats = warp_points(UTM, WGS84, [p[0] for p in pts], [p[1] for p in pts])
    for point, lon, lat, (_, _, label) in zip(geo.points, lons, lats, pts, strict=True):
        assert point.x == pytest.approx(lon, abs=1e-12)
        assert point.y == pytest.approx(lat, abs=1e-12)
        assert point.label == label
    back = geo.to_crs(UTM)
    for a, (x, y, _) in zip(back.points, pts, strict=True):
        assert (a.x, a.y) == pytest.approx((x, y), abs=1e-6)


def test_to_crs_box_is_the_bounds_of_the_reprojected_box() -> None:
    box = (500000.0, 3999000.0, 501000.0, 4000000.0)
    geo = PromptSet(UTM).with_box(box).to_crs(WGS84)
    xs, ys = warp_points(UTM, WGS84, [box[0], box[2], box[0], box[2]], [box[1], box[1], box[3], box[3]])
    xmin, ymin, xmax, ymax = geo.box
    # The reprojected box encloses every corner of the original, and not much more.
    assert xmin <= min(xs) + 1e-12 and xmax >= max(xs) - 1e-12
    assert ymin <= min(ys) + 1e-12 and ymax >= max(ys) - 1e-12
    assert xmax - xmin == pytest.approx(max(xs) - min(xs), rel=1e-2)
    assert ymax - ymin == pytest.approx(max(ys) - min(ys), rel=1e-2)


def test_points_moved_with_the_cached_transformer_equal_gdal_and_bad_ones_are_refused() -> None:
    pts = [(12.5, 45.1), (-3.25, 51.5), (179.9, -33.0)]
    prompts = PromptSet(WGS84)
    for x, y in pts:
        prompts = prompts.add_point(x, y)
    mercator = CRS.from_epsg(3857)
    xs, ys = warp_points(WGS84, mercator, [p[0] for p in pts], [p[1] for p in pts])
    assert [(p.x, p.y) for p in prompts.to_crs(mercator).points] == list(zip(xs, ys, strict=True))
    with pytest.raises(PromptError, match="cannot be transformed from EPSG:4326 to EPSG:3857"):
        PromptSet(WGS84).add_point(0, 91).to_crs(mercator)
