"""RasterSource on real GeoTIFFs: opening, bands, value ranges, nodata, planning and chip reads."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import scene
from rasterio.crs import CRS
from rasterio.warp import transform_geom
from shapely.geometry import Point, box, mapping, shape

from samscape.errors import (
    BandError,
    EmptyRasterError,
    ExtentError,
    MissingCRSError,
    RasterReadError,
    SettingsError,
)
from samscape.geo import Bounds, Extent, PixelGrid, Window
from samscape.raster import RasterSource, ValueRange, expand_bands, percentile_range

MakeRaster = Callable[..., Path]
UTM = CRS.from_epsg(32633)
WGS84 = CRS.from_epsg(4326)


def full(grid: PixelGrid) -> Window:
    return Window(0, 0, grid.width, grid.height)


def scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """The expected 0..255 value of raster values: linear, rounded to nearest, clipped."""
    factor = 255.0 / (high - low)
    return np.rint(np.clip((values.astype(np.float64) - low) * factor, 0, 255)).astype(np.uint8)


# --- opening ------------------------------------------------------------------------------------


def test_missing_file_raises_raster_read_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.tif"
    with pytest.raises(RasterReadError, match="nope.tif"):
        RasterSource(path)


def test_non_raster_file_raises_raster_read_error(tmp_path: Path) -> None:
    path = tmp_path / "text.tif"
    path.write_text("this is not a GeoTIFF")
    with pytest.raises(RasterReadError, match="cannot open raster"):
        RasterSource(path)


def test_native_grid(make_raster: MakeRaster) -> None:
    path = make_raster(width=300, height=200, count=3)
    with RasterSource(path) as src:
        assert src.count == 3
        assert src.name == "raster.tif"
        assert not src.assigned_crs
        assert src.grid == PixelGrid(300, 200, Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0), UTM)


def test_raster_without_crs_raises_missing_crs(make_raster: MakeRaster) -> None:
    path = make_raster(width=64, height=64, crs=None)
    with rasterio.open(path) as ds:
        assert not ds.crs
    with pytest.raises(MissingCRSError, match="--crs"):
        RasterSource(path)


def test_raster_without_georeferencing_is_refused_even_with_a_crs(tmp_path: Path) -> None:
    """GDAL gives a raster without a geotransform the identity: rows going south from 0, 0."""
    from rasterio.control import GroundControlPoint

    plain, gcps = tmp_path / "plain.tif", tmp_path / "gcps.tif"
    points = [GroundControlPoint(0, 0, 500000, 4000000), GroundControlPoint(64, 64, 500064, 3999936),
              GroundControlPoint(0, 64, 500000, 3999936)]
    for path, extra in ((plain, {}), (gcps, {"gcps": points, "crs": "EPSG:32633"})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1,
                               dtype="uint8", **extra) as ds:
                ds.write(scene(64, 64, 1))
    with pytest.raises(MissingCRSError, match="no georeferencing .* gdal_translate -a_ullr"):
        RasterSource(plain, crs="EPSG:32633")
    with pytest.raises(MissingCRSError, match="ground control points only: warp it first"):
        RasterSource(gcps)


def test_a_vrt_whose_sources_are_elsewhere_is_refused_naming_them(make_raster: MakeRaster,
                                                                  tmp_path: Path) -> None:
    """GDAL reads a missing VRT source as zeros on some reads and fails on others."""
    source = make_raster(width=64, height=64, count=1, data=scene(64, 64, 1))
    vrt = (f'<VRTDataset rasterXSize="64" rasterYSize="64"><SRS>EPSG:32633</SRS>'
           f'<GeoTransform>500000, 1, 0, 4000000, 0, -1</GeoTransform>'
           f'<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
           f'<SourceFilename relativeToVRT="1">{source.name}</SourceFilename><SourceBand>1</SourceBand>'
           f'</SimpleSource></VRTRasterBand></VRTDataset>')
    (tmp_path / "beside.vrt").write_text(vrt)
    with RasterSource(tmp_path / "beside.vrt") as src:
        assert src.grid.width == 64
    (tmp_path / "moved").mkdir()
    (tmp_path / "moved" / "mosaic.vrt").write_text(vrt)
    with pytest.raises(RasterReadError, match=f"names files that are not there: .*moved/{source.name}; "
                                              "a VRT finds relative paths from its own folder"):
        RasterSource(tmp_path / "moved" / "mosaic.vrt")


def test_raster_without_crs_works_with_crs_given(make_raster: MakeRaster) -> None:
    data = scene(64, 80, 3)
    path = make_raster(data=data, crs=None)
    with RasterSource(path, crs="EPSG:32633") as src:
        assert src.assigned_crs
        assert src.grid.crs == UTM
        assert src.grid.transform == Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
        grid = src.plan_grid("EPSG:32633")
        assert grid == src.grid
        spec = src.spec((1, 2, 3), grid, ValueRange(0, 255))
        chip = src.read_chip(spec, full(grid))
        assert chip is not None
        np.testing.assert_array_equal(chip, data.transpose(1, 2, 0))


def test_given_crs_does_not_override_the_raster_crs(make_raster: MakeRaster) -> None:
    path = make_raster(width=32, height=32)
    with RasterSource(path, crs="EPSG:32632") as src:
        assert src.grid.crs == UTM
        assert not src.assigned_crs


# --- bands --------------------------------------------------------------------------------------


def test_expand_bands() -> None:
    assert expand_bands((2,), 3) == (2, 2, 2)
    assert expand_bands([1, 3], 3) == (1, 3, 3)
    assert expand_bands((3, 1, 2), 3) == (3, 1, 2)
    assert expand_bands((4, 2, 1), 4) == (4, 2, 1)


@pytest.mark.parametrize(("bands", "count"), [((0,), 3), ((4,), 3), ((1, 5), 4), ((1, 2, -1), 3)])
def test_expand_bands_out_of_range(bands: tuple[int, ...], count: int) -> None:
    with pytest.raises(BandError, match=f"has {count} band"):
        expand_bands(bands, count)


@pytest.mark.parametrize("bands", [(), (1, 2, 3, 4)])
def test_expand_bands_wrong_number(bands: tuple[int, ...]) -> None:
    with pytest.raises(BandError, match="1 to 3 bands"):
        expand_bands(bands, 4)


def test_spec_validates_bands_against_the_raster(make_raster: MakeRaster) -> None:
    path = make_raster(width=32, height=32, count=2)
    with RasterSource(path) as src:
        assert src.spec((2,), src.grid, ValueRange(0, 1)).bands == (2, 2, 2)
        with pytest.raises(BandError, match="has 2 band"):
            src.spec((3,), src.grid, ValueRange(0, 1))


# --- value range --------------------------------------------------------------------------------


def test_value_range_to_uint8_exact_values() -> None:
    vr = ValueRange(10, 20)
    data = np.ma.masked_array(np.array([[[10.0, 20.0, 15.0, 0.0, 25.0, 12.0]]]))
    out = vr.to_uint8(data)
    assert out.shape == (1, 6, 1)
    assert out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 255, 128, 0, 255, 51]


def test_value_range_to_uint8_layout_and_mask() -> None:
    vr = ValueRange(0, 100)
    values = np.array([[[0, 50], [100, 100]], [[100, 50], [0, 200]], [[25, 50], [75, -5]]], dtype=np.float32)
    mask = np.zeros_like(values, dtype=bool)
    mask[1, 0, 1] = True  # masked in one band only: the whole pixel becomes 0
    out = vr.to_uint8(np.ma.masked_array(values, mask=mask))
    assert out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [0, 255, 64]
    assert out[0, 1].tolist() == [0, 0, 0]
    assert out[1, 0].tolist() == [255, 0, 191]
    assert out[1, 1].tolist() == [255, 255, 0]


def test_value_range_to_uint8_zeroes_unmasked_nan_and_inf_without_a_warning() -> None:
    values = np.array([[[np.nan, 40.0, np.inf]], [[10.0, 40.0, 10.0]], [[10.0, 40.0, 10.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ValueRange(0, 100).to_uint8(np.ma.masked_array(values))
    assert out[0].tolist() == [[0, 0, 0], [102, 102, 102], [0, 0, 0]]


@pytest.mark.parametrize(("low", "high"), [(5, 5), (6, 5), (float("nan"), 1), (0, float("inf"))])
def test_value_range_unusable(low: float, high: float) -> None:
    with pytest.raises(SettingsError, match="unusable"):
        ValueRange(low, high)


def test_percentile_range_helper() -> None:
    data = np.ma.masked_array(np.arange(101, dtype=np.float64), mask=np.arange(101) > 90)
    vr = percentile_range(data, (10, 90))
    assert (vr.low, vr.high) == pytest.approx((9.0, 81.0))
    flat = percentile_range(np.ma.masked_array(np.full(10, 7.0)), (2, 98))
    assert (flat.low, flat.high) == (6.0, 8.0)
    with pytest.raises(EmptyRasterError):
        percentile_range(np.ma.masked_array(np.ones(4), mask=True), (2, 98))
    with pytest.raises(SettingsError):
        percentile_range(data, (50, 10))


def test_percentile_range_of_16_bit_raster(make_raster: MakeRaster) -> None:
    data = scene(300, 400, 3, "uint16")
    data[:, :50, :] = 0  # nodata stripe must not pull the low percentile down
    path = make_raster(data=data, nodata=0)
    valid = data[:, data[0] != 0]
    with RasterSource(path) as src:
        vr = src.spec((1, 2, 3), src.grid, None, (2.0, 98.0)).value_range
        lo, hi = np.percentile(valid, [2, 98])
        assert vr.low == pytest.approx(lo, rel=1e-6, abs=1.0)
        assert vr.high == pytest.approx(hi, rel=1e-6, abs=1.0)
        assert vr.low > 1000, "nodata zeros were counted"
        one = src.spec((2,), src.grid, None, (5.0, 95.0)).value_range
        lo2, hi2 = np.percentile(valid[1], [5, 95])
        assert (one.low, one.high) == pytest.approx((lo2, hi2), rel=1e-6, abs=1.0)


def test_estimate_range_is_used_for_chip_reads(make_raster: MakeRaster) -> None:
    data = scene(120, 160, 3, "uint16")
    path = make_raster(data=data)
    with RasterSource(path) as src:
        spec = src.spec((1, 2, 3), src.grid, None)
        lo, hi = np.percentile(data, [2, 98])
        chip = src.read_chip(spec, full(src.grid))
    assert chip is not None
    expected = scale(data, lo, hi).transpose(1, 2, 0)
    assert np.abs(chip.astype(int) - expected.astype(int)).max() <= 1


# --- nodata -------------------------------------------------------------------------------------


def test_nodata_pixels_become_zero(make_raster: MakeRaster) -> None:
    data = scene(100, 120, 3, "uint16")
    data[:, 10:20, 30:50] = 65535
    data[0, 60, 70] = 65535  # nodata in one band only
    path = make_raster(data=data, nodata=65535)
    vr = ValueRange(0, 60000)
    with RasterSource(path) as src:
        spec = src.spec((1, 2, 3), src.grid, vr)
        chip = src.read_chip(spec, full(src.grid))
    assert chip is not None
    assert (chip[10:20, 30:50] == 0).all()
    assert chip[60, 70].tolist() == [0, 0, 0]
    valid = np.ones((100, 120), dtype=bool)
    valid[10:20, 30:50] = False
    valid[60, 70] = False
    assert (chip[valid] > 0).all()
    expected = scale(data, 0, 60000).transpose(1, 2, 0)
    np.testing.assert_array_equal(chip[valid], expected[valid])


def test_all_nodata_window_is_none(make_raster: MakeRaster) -> None:
    data = scene(100, 120, 3, "uint16")
    data[:, :40, :50] = 0
    path = make_raster(data=data, nodata=0)
    with RasterSource(path) as src:
        spec = src.spec((1, 2, 3), src.grid, ValueRange(0, 65535))
        assert src.read_chip(spec, Window(0, 0, 50, 40)) is None
        assert src.read_chip(spec, Window(10, 5, 20, 20)) is None
        partial = src.read_chip(spec, Window(0, 0, 51, 40))
        assert partial is not None
        assert (partial[:, :50] == 0).all() and (partial[:, 50] > 0).all()


def test_nan_in_float_data_is_nodata(make_raster: MakeRaster) -> None:
    data = scene(80, 90, 3, "float32")  # values in 0.05..0.95
    data[:, 5:15, 5:25] = np.nan
    data[2, 50, 60] = np.nan
    path = make_raster(data=data)  # no nodata value: NaN alone marks invalid pixels
    with RasterSource(path) as src:
        vr = src.spec((1, 2, 3), src.grid, None).value_range
        assert np.isfinite(vr.low) and np.isfinite(vr.high)
        lo, hi = np.nanpercentile(np.where(np.isnan(data).any(axis=0), np.nan, data), [2, 98])
        assert (vr.low, vr.high) == pytest.approx((lo, hi), abs=2e-3)
        spec = src.spec((1, 2, 3), src.grid, ValueRange(0.0, 1.0))
        chip = src.read_chip(spec, full(src.grid))
        assert chip is not None
        assert (chip[5:15, 5:25] == 0).all()
        assert chip[50, 60].tolist() == [0, 0, 0]
        assert chip[40, 40].min() > 0
        expected = scale(data[:, 40, 40], 0.0, 1.0)
        assert chip[40, 40].tolist() == expected.tolist()
        assert src.read_chip(spec, Window(5, 5, 20, 10)) is None


def test_flat_zero_uint8_with_nodata_reads(make_raster: MakeRaster) -> None:
    data = np.zeros((3, 40, 50), dtype=np.uint8)
    data[:, :10, :] = 255
    path = make_raster(data=data, nodata=255)
    with RasterSource(path) as src:
        spec = src.spec((1, 2, 3), src.grid, None)
        assert (spec.value_range.low, spec.value_range.high) == (-1.0, 1.0)
        chip = src.read_chip(spec, full(src.grid))
    assert chip is not None
    assert (chip[:10] == 0).all()
    assert (chip[10:] == 128).all(), "a flat image is shown mid-grey"


def test_value_range_below_dtype_minimum_without_nodata(make_raster: MakeRaster) -> None:
    # Without nodata there is no mask, so a range below the dtype's minimum works.
    data = np.full((3, 20, 20), 7, dtype=np.uint8)
    with RasterSource(make_raster(data=data)) as src:
        chip = src.read_chip(src.spec((1,), src.grid, ValueRange(-10, 300)), full(src.grid))
    assert chip is not None
    assert (chip == round(17 * 255 / 310)).all()


# --- band order ---------------------------------------------------------------------------------


def test_four_band_uint16_band_order(make_raster: MakeRaster) -> None:
    data = scene(64, 96, 4, "uint16", seed=3)
    path = make_raster(data=data)
    vr = ValueRange(1000, 60000)
    with RasterSource(path) as src:
        assert src.count == 4
        spec = src.spec((4, 2, 1), src.grid, vr)
        assert spec.bands == (4, 2, 1)
        chip = src.read_chip(spec, Window(10, 20, 50, 30))
        two = src.read_chip(src.spec((3, 4), src.grid, vr), Window(0, 0, 96, 64))
    assert chip is not None and chip.shape == (30, 50, 3)
    sub = data[:, 20:50, 10:60]
    for channel, band in enumerate((4, 2, 1)):
        np.testing.assert_array_equal(chip[..., channel], scale(sub[band - 1], 1000, 60000))
    assert two is not None
    np.testing.assert_array_equal(two[..., 0], scale(data[2], 1000, 60000))
    np.testing.assert_array_equal(two[..., 1], scale(data[3], 1000, 60000))
    np.testing.assert_array_equal(two[..., 2], two[..., 1])


# --- planning and warped reads ------------------------------------------------------------------


def test_plan_grid_defaults_to_native(make_raster: MakeRaster) -> None:
    with RasterSource(make_raster(width=100, height=80)) as src:
        assert src.plan_grid() == src.grid
        assert src.plan_grid("EPSG:32633") == src.grid


def test_plan_grid_wgs84_warped_read(make_raster: MakeRaster) -> None:
    # West of the zone's central meridian, so the UTM footprint is visibly rotated in lon/lat and
    # the corners of the lon/lat grid lie outside it.
    transform = Affine(1.0, 0, 250000.0, 0, -1.0, 4000000.0)
    path = make_raster(width=300, height=400, count=3, transform=transform)
    with RasterSource(path) as src:
        grid = src.plan_grid("EPSG:4326")
        assert grid.crs == WGS84
        footprint = shape(transform_geom(UTM, WGS84, mapping(src.grid.footprint)))
        spec = src.spec((1, 2, 3), grid, ValueRange(0, 255))
        chip = src.read_chip(spec, full(grid))
        corner = src.read_chip(spec, Window(0, 0, 3, 3))
    assert chip is not None
    assert chip.shape == (grid.height, grid.width, 3)
    assert corner is None, "a window wholly outside the source footprint must be masked (alpha), not 0"
    pixel = max(grid.res)
    inside = footprint.buffer(-2 * pixel)
    outside = footprint.buffer(2 * pixel)
    n_in = n_out = 0
    for row in range(0, grid.height, 7):
        for col in range(0, grid.width, 7):
            centre = Point(grid.transform @ (col + 0.5, row + 0.5))
            if inside.contains(centre):
                assert chip[row, col].min() > 0, (row, col)
                n_in += 1
            elif not outside.contains(centre):
                assert chip[row, col].tolist() == [0, 0, 0], (row, col)
                n_out += 1
    assert n_in > 500 and n_out > 20, (n_in, n_out)
    corners = [(0, 0), (0, grid.width - 1), (grid.height - 1, 0), (grid.height - 1, grid.width - 1)]
    corners += [(r, c) for r in range(3) for c in range(3)]
    for row, col in corners:
        assert not outside.contains(Point(grid.transform @ (col + 0.5, row + 0.5)))
        assert chip[row, col].tolist() == [0, 0, 0]


def test_plan_grid_coarser_resolution_averages_blocks(make_raster: MakeRaster) -> None:
    data = scene(400, 300, 3)
    path = make_raster(data=data)  # 0.5 m pixels
    with RasterSource(path) as src:
        grid = src.plan_grid(resolution=1.0)
        assert grid.crs == UTM
        assert grid.res == (1.0, 1.0)
        assert (grid.width, grid.height) == (150, 200)
        assert grid.bounds == src.grid.bounds
        spec = src.spec((1, 2, 3), grid, ValueRange(0, 255))
        chip = src.read_chip(spec, full(grid))
        window = src.read_chip(spec, Window(40, 60, 30, 20))
    assert chip is not None and chip.shape == (200, 150, 3)
    blocks = data.reshape(3, 200, 2, 150, 2).astype(np.float64).mean(axis=(2, 4)).transpose(1, 2, 0)
    assert np.abs(chip.astype(np.float64) - blocks).max() <= 1.5
    assert window is not None
    np.testing.assert_array_equal(window, chip[60:80, 40:70])


def test_plan_grid_extent_in_wgs84_inside_raster(make_raster: MakeRaster) -> None:
    data = scene(500, 600, 3)
    path = make_raster(data=data)
    inner = Bounds(500050.0, 3999800.0, 500200.0, 3999950.0)
    with RasterSource(path) as src:
        lonlat = rasterio.warp.transform_bounds(UTM, WGS84, *inner)
        grid = src.plan_grid(extent=Extent(Bounds(*lonlat), WGS84))
        assert grid.crs == UTM and grid.res == src.grid.res
        window = grid.offset_in(src.grid)
        assert window is not None
        assert all(abs(a - b) < 1.0 for a, b in zip(grid.bounds, inner, strict=True))
        assert grid.footprint.buffer(1e-6).contains(shape(transform_geom(WGS84, UTM, mapping(box(*lonlat)))))
        chip = src.read_chip(src.spec((1, 2, 3), grid, ValueRange(0, 255)), full(grid))
    assert chip is not None
    expected = data[
        :, window.row_off : window.row_off + window.height, window.col_off : window.col_off + window.width
    ]
    np.testing.assert_array_equal(chip, expected.transpose(1, 2, 0))


def test_plan_grid_extent_outside_raster_raises(make_raster: MakeRaster) -> None:
    with RasterSource(make_raster(width=100, height=100)) as src, pytest.raises(ExtentError):
        src.plan_grid(extent=Extent(Bounds(10.0, 40.0, 10.1, 40.1), WGS84))


def test_geographic_raster_with_resolution_picks_utm(make_raster: MakeRaster) -> None:
    transform = Affine(1e-5, 0, 15.0, 0, -1e-5, 36.0)
    path = make_raster(width=200, height=150, crs="EPSG:4326", transform=transform)
    with RasterSource(path) as src:
        assert src.grid.crs.is_geographic
        grid = src.plan_grid(resolution=1.0)
        assert grid.crs.to_epsg() == 32633
        assert grid.crs.is_projected
        assert grid.res == pytest.approx((1.0, 1.0))
        # 200 x 1e-5 deg of longitude at 36 N is about 180 m; 150 x 1e-5 deg of latitude about 166 m.
        assert 170 <= grid.width <= 195 and 155 <= grid.height <= 175
        chip = src.read_chip(src.spec((1, 2, 3), grid, ValueRange(0, 255)), Window(20, 20, 100, 100))
        assert chip is not None and chip.min() > 0


def test_geographic_raster_with_crs_and_resolution_keeps_the_crs(make_raster: MakeRaster) -> None:
    transform = Affine(1e-5, 0, 15.0, 0, -1e-5, 36.0)
    path = make_raster(width=100, height=100, crs="EPSG:4326", transform=transform)
    with RasterSource(path) as src:
        grid = src.plan_grid("EPSG:32632", resolution=2.0)
        assert grid.crs.to_epsg() == 32632
        assert grid.res == pytest.approx((2.0, 2.0))


def test_read_chip_georeferencing_round_trip(make_raster: MakeRaster) -> None:
    data = scene(500, 600, 3)
    path = make_raster(data=data)
    with RasterSource(path) as src:
        grid = src.plan_grid(extent=Extent(Bounds(500033.3, 3999777.7, 500211.1, 3999901.9), None))
        assert grid.offset_in(src.grid) is not None
        spec = src.spec((1, 2, 3), grid, ValueRange(0, 255))
        chip_window = Window(17, 9, 64, 48)
        chip = src.read_chip(spec, chip_window)
        chip_grid = grid.window(chip_window)
    assert chip is not None and chip.shape == (48, 64, 3)
    inverse = ~src.grid.transform
    for row, col in [(0, 0), (47, 63), (10, 30), (31, 2)]:
        x, y = chip_grid.transform @ (col + 0.5, row + 0.5)  # pixel centre in map coordinates
        src_col, src_row = (int(v) for v in np.floor(inverse @ (x, y)))
        assert chip[row, col].tolist() == data[:, src_row, src_col].tolist(), (row, col)
    # The whole chip, via rasterio's own window for the chip's bounds.
    with rasterio.open(path) as ds:
        rio_window = rasterio.windows.from_bounds(*chip_grid.bounds, transform=ds.transform)
        direct = ds.read(window=rio_window.round_offsets().round_lengths())
    np.testing.assert_array_equal(chip, direct.transpose(1, 2, 0))


# --- fingerprint --------------------------------------------------------------------------------


def test_fingerprint_stable_across_opens(make_raster: MakeRaster) -> None:
    path = make_raster(width=64, height=48)
    with RasterSource(path) as a, RasterSource(path) as b:
        assert a.fingerprint() == b.fingerprint()
        assert a.fingerprint().startswith("v2:") and len(a.fingerprint()) == 27


def test_fingerprint_sees_one_changed_pixel_and_survives_a_copy(make_raster: MakeRaster,
                                                                tmp_path: Path) -> None:
    import shutil

    path = make_raster(width=300, height=200)
    with RasterSource(path) as source:
        before = source.fingerprint()
    shutil.copy(path, tmp_path / "copy.tif")  # a new modification time, the same pixels
    with RasterSource(tmp_path / "copy.tif") as source:
        assert source.fingerprint() == before
    with rasterio.open(path, "r+") as ds:
        data = ds.read()
        data[1, 150, 250] ^= 1
        ds.write(data)
    with RasterSource(path) as source:
        assert source.fingerprint() != before


def test_fingerprint_changes_with_content_size(make_raster: MakeRaster) -> None:
    rng = np.random.default_rng(1)
    flat = np.full((3, 64, 64), 100, dtype=np.uint8)
    noisy = rng.integers(0, 255, (3, 64, 64), dtype=np.uint8)
    a = make_raster("flat.tif", data=flat, compress="deflate")
    b = make_raster("noisy.tif", data=noisy, compress="deflate")
    assert a.stat().st_size != b.stat().st_size
    c = make_raster("bigger.tif", data=scene(64, 65, 3))
    with RasterSource(a) as sa, RasterSource(b) as sb, RasterSource(c) as sc:
        assert sa.fingerprint() != sb.fingerprint()
        assert sc.fingerprint() not in (sa.fingerprint(), sb.fingerprint())


def test_reading_a_geopackage_raster_leaves_no_aux_xml_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "tiles.gpkg"
    data = np.random.default_rng(0).integers(0, 255, (3, 1024, 1024), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GPKG", width=1024, height=1024, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        ds.write(data)
        ds.update_tags(source="a tag GDAL would copy into each zoom level's .aux.xml")
    with rasterio.open(path, "r+") as ds:
        ds.build_overviews([2, 4])
    with RasterSource(str(path)) as raster:
        found = raster.estimate_range(raster.grid, (1, 2, 3), (2, 98), budget=2**40)
        assert 0 <= found.low < found.high <= 255
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles.gpkg"]
