"""PixelGrid geometry, extents and CRS helpers."""

from __future__ import annotations

import math

import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds as rio_transform_bounds

from samscape.errors import ExtentError, SettingsError
from samscape.geo import Bounds, Extent, PixelGrid, Window, norm_crs, parse_extent, utm_crs_for

UTM = CRS.from_epsg(32633)
WGS84 = CRS.from_epsg(4326)


def make_grid(
    width: int = 600,
    height: int = 500,
    res: float = 0.5,
    x0: float = 500000.0,
    y0: float = 4000000.0,
    crs: CRS = UTM,
) -> PixelGrid:
    return PixelGrid(width, height, Affine(res, 0, x0, 0, -res, y0), crs)


# --- basic geometry -----------------------------------------------------------------------------


def test_bounds_and_res() -> None:
    grid = make_grid()
    assert grid.res == (0.5, 0.5)
    assert grid.bounds == Bounds(500000.0, 3999750.0, 500300.0, 4000000.0)
    assert grid.footprint.area == pytest.approx(300 * 250)


def test_res_is_positive_for_non_square_pixels() -> None:
    grid = PixelGrid(10, 20, Affine(2.0, 0, 0.0, 0, -3.0, 100.0), UTM)
    assert grid.res == (2.0, 3.0)
    assert grid.bounds == Bounds(0.0, 40.0, 20.0, 100.0)


@pytest.mark.parametrize(("width", "height"), [(0, 10), (10, 0), (-1, 5)])
def test_grid_size_must_be_positive(width: int, height: int) -> None:
    with pytest.raises(ValueError, match="grid size must be positive"):
        PixelGrid(width, height, Affine.identity(), UTM)


def test_window_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window size must be positive"):
        Window(0, 0, 0, 5)


def test_window_subgrid() -> None:
    grid = make_grid()
    sub = grid.window(Window(100, 40, 200, 50))
    assert (sub.width, sub.height) == (200, 50)
    assert sub.crs == grid.crs
    assert sub.res == grid.res
    assert sub.bounds == Bounds(500050.0, 3999955.0, 500150.0, 3999980.0)
    # The sub-grid's pixel (0, 0) is the parent's pixel (100, 40).
    assert sub.transform @ (0, 0) == grid.transform @ (100, 40)


# --- offset_in ----------------------------------------------------------------------------------


def test_offset_in_aligned_subgrid_is_its_window() -> None:
    grid = make_grid()
    window = Window(37, 11, 123, 45)
    assert grid.window(window).offset_in(grid) == window


def test_offset_in_self_is_full_window() -> None:
    grid = make_grid()
    assert grid.offset_in(grid) == Window(0, 0, 600, 500)


def test_offset_in_misaligned_is_none() -> None:
    grid = make_grid()
    shifted = PixelGrid(100, 100, grid.transform @ Affine.translation(10.5, 3), grid.crs)
    assert shifted.offset_in(grid) is None
    shifted_rows = PixelGrid(100, 100, grid.transform @ Affine.translation(10, 3.25), grid.crs)
    assert shifted_rows.offset_in(grid) is None


def test_offset_in_different_resolution_is_none() -> None:
    grid = make_grid()
    coarse = make_grid(300, 250, res=1.0)  # same origin, aligned corner, but 1 m pixels
    assert coarse.offset_in(grid) is None
    assert grid.offset_in(coarse) is None


def test_offset_in_different_crs_is_none() -> None:
    grid = make_grid()
    other = PixelGrid(grid.width, grid.height, grid.transform, CRS.from_epsg(32632))
    assert other.offset_in(grid) is None


# --- crop ---------------------------------------------------------------------------------------


def test_crop_on_pixel_edges_is_exact() -> None:
    grid = make_grid()
    # Columns 20..60, rows 10..30 exactly.
    cropped = grid.crop(Bounds(500010.0, 3999985.0, 500030.0, 3999995.0))
    assert cropped.offset_in(grid) == Window(20, 10, 40, 20)
    assert cropped.bounds == Bounds(500010.0, 3999985.0, 500030.0, 3999995.0)


def test_crop_snaps_outward_to_whole_pixels() -> None:
    grid = make_grid()
    bounds = Bounds(500010.2, 3999985.1, 500030.1, 3999994.8)
    cropped = grid.crop(bounds)
    assert cropped.offset_in(grid) == Window(20, 10, 41, 20)
    cb = cropped.bounds
    assert cb.xmin <= bounds.xmin and cb.ymin <= bounds.ymin
    assert cb.xmax >= bounds.xmax and cb.ymax >= bounds.ymax
    assert bounds.xmin - cb.xmin < 0.5 and cb.xmax - bounds.xmax < 0.5
    assert bounds.ymin - cb.ymin < 0.5 and cb.ymax - bounds.ymax < 0.5


def test_crop_is_clipped_to_the_grid() -> None:
    grid = make_grid()
    cropped = grid.crop(Bounds(499900.0, 3999900.0, 500100.0, 4000100.0))
    assert cropped.offset_in(grid) == Window(0, 0, 200, 200)
    whole = grid.crop(Bounds(0.0, 0.0, 1e7, 1e7))
    assert whole == grid


@pytest.mark.parametrize(
    "bounds",
    [
        Bounds(400000.0, 3999800.0, 400100.0, 3999900.0),  # far west
        Bounds(500300.0, 3999800.0, 500400.0, 3999900.0),  # touching the east edge only
        Bounds(500000.0, 4000000.0, 500100.0, 4000100.0),  # touching the north edge only
    ],
)
def test_crop_not_intersecting_raises(bounds: Bounds) -> None:
    with pytest.raises(ExtentError, match="does not intersect"):
        make_grid().crop(bounds)


def test_crop_to_bounds_in_wgs84_for_a_utm_grid() -> None:
    grid = make_grid()
    inner = Bounds(500050.0, 3999800.0, 500200.0, 3999950.0)
    lonlat = Bounds(*rio_transform_bounds(UTM, WGS84, *inner, densify_pts=21))
    assert 14.9 < lonlat.xmin < lonlat.xmax < 15.1 and 36.0 < lonlat.ymin < lonlat.ymax < 36.2
    cropped = grid.crop_to(lonlat, WGS84)
    window = cropped.offset_in(grid)
    assert window is not None, "a crop stays aligned to the grid"
    # The lon/lat box encloses `inner`, and the crop encloses the lon/lat box, to within ~a pixel.
    expected = Bounds(*rio_transform_bounds(WGS84, UTM, *lonlat, densify_pts=21))
    cb = cropped.bounds
    assert cb.xmin <= expected.xmin + 1e-6 and cb.xmax >= expected.xmax - 1e-6
    assert cb.ymin <= expected.ymin + 1e-6 and cb.ymax >= expected.ymax - 1e-6
    assert all(abs(a - b) < 2.0 for a, b in zip(cb, inner, strict=True))
    assert cropped.width < grid.width and cropped.height < grid.height


def test_crop_to_same_crs_is_crop() -> None:
    grid = make_grid()
    bounds = Bounds(500010.2, 3999985.1, 500030.1, 3999994.8)
    assert grid.crop_to(bounds, UTM) == grid.crop(bounds)


def test_crop_to_outside_in_wgs84_raises() -> None:
    with pytest.raises(ExtentError):
        make_grid().crop_to(Bounds(10.0, 40.0, 10.1, 40.1), WGS84)


# --- reproject ----------------------------------------------------------------------------------


def test_reproject_to_own_crs_without_resolution_is_identity() -> None:
    grid = make_grid()
    assert grid.reproject() is grid
    assert grid.reproject(UTM) is grid


def test_reproject_resolution_change_same_crs() -> None:
    grid = make_grid()
    coarse = grid.reproject(resolution=1.0)
    assert coarse.crs == grid.crs
    assert coarse.res == (1.0, 1.0)
    assert (coarse.width, coarse.height) == (300, 250)
    assert coarse.bounds == grid.bounds
    fine = grid.reproject(resolution=0.25)
    assert (fine.width, fine.height) == (1200, 1000)
    assert fine.bounds == grid.bounds


def test_reproject_resolution_not_dividing_extent_keeps_bounds_within_a_pixel() -> None:
    grid = make_grid()
    odd = grid.reproject(resolution=0.7)
    assert (odd.width, odd.height) == (round(300 / 0.7), round(250 / 0.7))
    assert odd.bounds.xmin == grid.bounds.xmin and odd.bounds.ymax == grid.bounds.ymax
    assert abs(odd.bounds.xmax - grid.bounds.xmax) <= 0.7
    assert abs(odd.bounds.ymin - grid.bounds.ymin) <= 0.7


def test_reproject_to_wgs84_preserves_bounds() -> None:
    grid = make_grid()
    geo = grid.reproject(WGS84)
    assert geo.crs == WGS84
    expected = rio_transform_bounds(UTM, WGS84, *grid.bounds, densify_pts=21)
    pixel = max(geo.res)
    assert 1e-6 < pixel < 1e-4, "about half a metre in degrees"
    assert all(abs(a - b) < 3 * pixel for a, b in zip(geo.bounds, expected, strict=True))
    # Roughly the same number of pixels as the source (same ground resolution).
    assert geo.width * geo.height == pytest.approx(grid.width * grid.height, rel=0.3)


def test_reproject_to_wgs84_with_resolution() -> None:
    grid = make_grid()
    geo = grid.reproject(WGS84, resolution=1e-5)
    assert geo.res == pytest.approx((1e-5, 1e-5))
    expected = rio_transform_bounds(UTM, WGS84, *grid.bounds, densify_pts=21)
    assert all(abs(a - b) < 2e-5 for a, b in zip(geo.bounds, expected, strict=True))


# --- parse_extent -------------------------------------------------------------------------------


def test_parse_extent_string_without_crs() -> None:
    extent = parse_extent("500000, 3999800,500100.5,3999900")
    assert extent == Extent(Bounds(500000.0, 3999800.0, 500100.5, 3999900.0), None)
    assert isinstance(extent.bounds, Bounds)


def test_parse_extent_string_with_crs() -> None:
    extent = parse_extent("14.99,36.1,15.01,36.2@EPSG:4326")
    assert extent.bounds == Bounds(14.99, 36.1, 15.01, 36.2)
    assert extent.crs == WGS84
    assert parse_extent("1,2,3,4 @ EPSG:32633").crs == UTM


@pytest.mark.parametrize("value", [[1, 2, 3, 4], (1.0, 2.0, 3.0, 4.0), ["1", "2", "3", "4"]])
def test_parse_extent_sequences(value: list | tuple) -> None:
    assert parse_extent(value) == Extent(Bounds(1.0, 2.0, 3.0, 4.0), None)


def test_parse_extent_extent_passes_through() -> None:
    extent = Extent(Bounds(1, 2, 3, 4), WGS84)
    assert parse_extent(extent) is extent


@pytest.mark.parametrize(
    "value",
    [
        "1,2,3",
        "1,2,3,4,5",
        "a,b,c,d",
        "",
        "1;2;3;4",
        "1,2,3,4,",
        [1, 2, 3],
        [1, 2, 3, 4, 5],
        ["x", 2, 3, 4],
        [None, 2, 3, 4],
    ],
)
def test_parse_extent_malformed_raises(value: object) -> None:
    with pytest.raises(ExtentError, match="4 finite numbers"):
        parse_extent(value)


@pytest.mark.parametrize("value", ["nan,2,3,4", "1,2,inf,4", "-inf,2,3,4", [1, 2, float("nan"), 4]])
def test_parse_extent_non_finite_raises(value: object) -> None:
    with pytest.raises(ExtentError, match="finite"):
        parse_extent(value)


@pytest.mark.parametrize("value", ["3,2,1,4", "1,4,3,2", "1,2,1,4", "1,2,3,2", [5, 5, 5, 5]])
def test_parse_extent_inverted_or_empty_raises(value: object) -> None:
    with pytest.raises(ExtentError, match="empty"):
        parse_extent(value)


def test_parse_extent_bad_crs_raises_settings_error() -> None:
    with pytest.raises(SettingsError, match="unknown CRS"):
        parse_extent("1,2,3,4@EPSG:999999")


# --- CRS helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["EPSG:32633", 32633, "+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs"])
def test_norm_crs_spellings(value: object) -> None:
    crs = norm_crs(value)
    assert isinstance(crs, CRS)
    assert crs.to_epsg() == 32633


def test_norm_crs_passes_crs_through() -> None:
    assert norm_crs(UTM) is UTM


@pytest.mark.parametrize("value", ["EPSG:999999", "not a crs", "+proj=nonsense", ""])
def test_norm_crs_bad_input_raises_settings_error(value: object) -> None:
    with pytest.raises(SettingsError, match="unknown CRS"):
        norm_crs(value)


def test_utm_crs_for_lon15_lat36() -> None:
    crs = utm_crs_for(Bounds(15.0, 36.0, 15.0, 36.0), WGS84)
    assert crs.to_epsg() == 32633
    assert crs == UTM


def test_utm_crs_for_projected_bounds_and_other_zones() -> None:
    # The centre of a UTM 33N grid is in zone 33N; a box around lon 9, lat -20 is in 32S.
    assert utm_crs_for(make_grid().bounds, UTM).to_epsg() == 32633
    assert utm_crs_for(Bounds(8.9, -20.1, 9.1, -19.9), WGS84).to_epsg() == 32732
    lon = -122.4
    zone = math.floor((lon + 180) / 6) + 1
    assert utm_crs_for(Bounds(lon - 0.01, 37.7, lon + 0.01, 37.8), WGS84).to_epsg() == 32600 + zone


def test_utm_crs_for_uses_the_centre_of_wide_bounds() -> None:
    # Spans zones 32..34; the centre (lon 15, lat 36) is in 33N.
    assert utm_crs_for(Bounds(10.5, 35.0, 19.5, 37.0), WGS84).to_epsg() == 32633
    # Straddles the equator; the centre (lon 9, lat -0.5) is in 32S.
    assert utm_crs_for(Bounds(7.0, -2.0, 11.0, 1.0), WGS84).to_epsg() == 32732


@pytest.mark.parametrize("bounds", [Bounds(15.0, 85.0, 15.01, 85.01), Bounds(15.0, -85.0, 15.01, -84.99)])
def test_utm_crs_for_polar_bounds_falls_back_to_ups(bounds: Bounds) -> None:
    assert utm_crs_for(bounds, WGS84).to_epsg() == (32661 if bounds.ymin > 0 else 32761)


def test_crop_to_whole_world_extent_keeps_the_grid() -> None:
    grid = make_grid(x0=300000.0)
    assert grid.crop_to(Bounds(-180.0, -90.0, 180.0, 90.0), WGS84) == grid
