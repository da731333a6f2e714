"""Planning and reading cost the same at any raster size: the value range of a raster too large to
read whole comes from a bounded sample; GDAL's block cache is capped; a window of a 50 000² VRT
encodes within a bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import rasterio
from conftest import scene
from rasterio.enums import Resampling

from samscape.raster import RasterSource, percentile_range
from samscape.raster.source import BLOCK_CACHE_BYTES, SAMPLE_SIZE

MakeRaster = Callable[..., Path]
TOLERANCE = 0.05
"""Each end of a sampled range lies within this fraction of the range's width of the range from
the decimated read of every pixel (measured: up to 0.039 on 1500–4096 px scenes)."""


def decimated_range(path: Path) -> tuple[float, float]:
    """The value range as samscape planned it before: percentiles of an average-decimated read of
    the whole raster to at most SAMPLE_SIZE px a side."""
    with rasterio.open(path) as ds:
        factor = max(ds.width, ds.height) / SAMPLE_SIZE
        shape = (ds.count, round(ds.height / factor), round(ds.width / factor)) if factor > 1 else None
        data = ds.read(masked=True, out_shape=shape, resampling=Resampling.average)
    vr = percentile_range(data, (2.0, 98.0))
    return vr.low, vr.high


@pytest.mark.parametrize(("side", "dtype"), [(600, "uint8"), (1500, "uint8"), (1800, "uint16")])
def test_the_value_range_is_unchanged_where_the_raster_reads_within_budget(make_raster, side, dtype):
    path = make_raster(data=scene(side, side, 3, dtype, seed=side))
    with RasterSource(path) as src:
        vr = src.estimate_range(src.grid, (1, 2, 3), (2.0, 98.0))
    assert (vr.low, vr.high) == decimated_range(path)  # existing folders resume as the same encoding


@pytest.mark.parametrize(("side", "dtype"), [(1500, "uint8"), (1800, "uint16")])
def test_a_sampled_value_range_is_within_tolerance_of_the_full_one(make_raster, side, dtype):
    path = make_raster(data=scene(side, side, 3, dtype, seed=side))
    with RasterSource(path) as src:
        sampled = src.estimate_range(src.grid, (1, 2, 3), (2.0, 98.0), budget=0)
    low, high = decimated_range(path)
    assert (sampled.low, sampled.high) != (low, high)
    assert abs(sampled.low - low) <= TOLERANCE * (high - low)
    assert abs(sampled.high - high) <= TOLERANCE * (high - low)


def test_overviews_keep_the_decimated_read(make_raster):
    path = make_raster(data=scene(2600, 2600, 3, "uint8", seed=3), tiled=True)
    budget = 2_000_000  # 2600² px decoded without overviews; a quarter of that from the 2× overview
    with RasterSource(path) as src:
        bare = src.estimate_range(src.grid, (1, 2, 3), (2.0, 98.0), budget=budget)
    with rasterio.open(path, "r+") as ds:
        ds.build_overviews([2, 4, 8], Resampling.average)
    with RasterSource(path) as src:
        assert src._decoded_pixels(src.grid, 2600 / SAMPLE_SIZE, 1) == 1300 * 1300
        kept = src.estimate_range(src.grid, (1, 2, 3), (2.0, 98.0), budget=budget)
        sampled = src.estimate_range(src.grid, (1, 2, 3), (2.0, 98.0), budget=0)
    assert (kept.low, kept.high) == decimated_range(path)
    assert (bare.low, bare.high) == (sampled.low, sampled.high) != (kept.low, kept.high)


CACHE = """
import json, sys
from rasterio.env import get_gdal_config
from samscape.raster import RasterSource
with RasterSource(sys.argv[1]):
    print(json.dumps(get_gdal_config("GDAL_CACHEMAX")))
"""


def test_gdal_block_cache_is_capped_unless_the_user_set_it(make_raster):
    path = str(make_raster())
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    ours = subprocess.run([sys.executable, "-c", CACHE, path], env=env, capture_output=True, text=True,
                          check=True)
    assert 0 < json.loads(ours.stdout) <= BLOCK_CACHE_BYTES
    theirs = subprocess.run([sys.executable, "-c", CACHE, path], env={**env, "GDAL_CACHEMAX": "1000"},
                            capture_output=True, text=True, check=True)
    assert json.loads(theirs.stdout) == 1000 * 2**20


def mosaic(root: Path, side: int, tile: int = 1000) -> Path:
    """A VRT of side² px repeating one tile² GeoTIFF (no overviews; costs no disk)."""
    from affine import Affine

    src = root / "tile.tif"
    with rasterio.open(src, "w", driver="GTiff", width=tile, height=tile, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000),
                       tiled=True) as ds:
        ds.write(scene(tile, tile))
        wkt = ds.crs.to_wkt()
    k = side // tile
    bands = "".join(
        f'<VRTRasterBand dataType="Byte" band="{b}">' + "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="0">{src}</SourceFilename>'
            f'<SourceBand>{b}</SourceBand><SrcRect xOff="0" yOff="0" xSize="{tile}" ySize="{tile}"/>'
            f'<DstRect xOff="{c * tile}" yOff="{r * tile}" xSize="{tile}" ySize="{tile}"/></SimpleSource>'
            for r in range(k) for c in range(k)) + "</VRTRasterBand>" for b in range(1, 4))
    vrt = root / "mosaic.vrt"
    vrt.write_text(f'<VRTDataset rasterXSize="{side}" rasterYSize="{side}"><SRS>{wkt}</SRS>'
                   f"<GeoTransform>500000, 0.5, 0, 4000000, 0, -0.5</GeoTransform>{bands}</VRTDataset>")
    return vrt


ENCODE_SOME = """
import json, sys, time
def peak_mib():  # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's across exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
import samscape
from samscape.planning import plan_chips
from samscape.raster import RasterSource
from samscape.settings import EncodeSettings
with RasterSource(sys.argv[1]) as source:
    start = time.process_time()
    spec, chips = plan_chips(source, EncodeSettings(model="tiny-random-sam"), 256)
    planning = time.process_time() - start
    sampled = source.estimate_range(source.grid, spec.bands, (2.0, 98.0), budget=0)
class Enough(Exception):
    pass
def stop(done, total):
    if done >= 24:
        raise Enough
try:
    samscape.encode(sys.argv[1], sys.argv[2], model="tiny-random-sam", batch_size=4, progress=stop)
except Enough:
    pass
print(json.dumps({"planning_s": planning, "chips": len(chips), "range": [spec.value_range.low,
                  spec.value_range.high], "sampled": [sampled.low, sampled.high],
                  "peak_mib": peak_mib()}))
"""


def test_encoding_part_of_a_50000_px_raster_stays_bounded(tmp_path):
    vrt = mosaic(tmp_path, 50_000)
    done = subprocess.run([sys.executable, "-c", ENCODE_SOME, str(vrt), str(tmp_path / "ff")],
                          capture_output=True, text=True, env={**os.environ}, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"50 000² VRT: planning {got['planning_s']:.2f} s CPU, peak RSS {got['peak_mib']:.0f} MiB")
    assert got["chips"] == 390 ** 2 and got["range"] == got["sampled"]  # the bounded sample
    assert got["peak_mib"] < 2048
    from samscape.features import FeatureFolder

    folder = FeatureFolder.open(tmp_path / "ff")
    assert len(folder) >= 24 and folder.metadata.grid_chip_count == 390 ** 2
    assert list(folder.metadata.preprocessing.value_range) == got["range"]
