"""Encoding never trusts what it finds: a raster edited since, user files beside the chips, wrong
argument types, absurd grids, rotated rasters, read-only folders."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

import samscape
from samscape.encoder import encode
from samscape.errors import FolderConflictError, SamscapeError, SettingsError
from samscape.features import FeatureFolder
from samscape.geo.chips import MAX_CHIPS
from samscape.settings import EncodeSettings

TINY = "tiny-random-sam"


def _edit_in_place(path: Path) -> None:
    """Change some pixels, keeping the file size, dtype and value range."""
    with rasterio.open(path, "r+") as ds:
        data = ds.read()
        data[:, 300:340, 300:340] = data[:, 0:40, 0:40]
        ds.write(data)


def test_resume_on_a_raster_edited_in_place_is_refused(make_raster, tmp_path):
    raster = make_raster(width=600, height=600)
    first = encode(str(raster), tmp_path / "ff", model=TINY, progress=False)
    assert first.encoded == 16
    size, (low, high) = raster.stat().st_size, _range(raster)
    _edit_in_place(raster)
    assert raster.stat().st_size == size and _range(raster) == (low, high)
    with pytest.raises(FolderConflictError, match=r"raster .* changed.*--overwrite"):
        encode(str(raster), tmp_path / "ff", model=TINY, progress=False)
    again = encode(str(raster), tmp_path / "ff", model=TINY, overwrite=True, progress=False)
    assert again.encoded == 16 and again.already_done == 0


def _range(path: Path) -> tuple[int, int]:
    with rasterio.open(path) as ds:
        data = ds.read()
    return int(data.min()), int(data.max())


def test_fingerprint_of_a_huge_raster_costs_little(tmp_path):
    from samscape.raster import RasterSource

    path = tmp_path / "huge.tif"
    with rasterio.open(path, "w", driver="GTiff", width=40000, height=40000, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000),
                       tiled=True, sparse_ok=True):
        pass
    with RasterSource(path) as source:
        started = time.perf_counter()
        first = source.fingerprint()
        assert time.perf_counter() - started < 5
    with rasterio.open(path, "r+") as ds:
        ds.write(np.full((3, 256, 256), 9, dtype="uint8"), window=rasterio.windows.Window(0, 0, 256, 256))
    with RasterSource(path) as source:
        assert source.fingerprint() != first


def test_overwrite_after_an_unreadable_manifest_keeps_user_files(make_raster, tmp_path):
    raster = str(make_raster())
    encode(raster, tmp_path / "ff", model=TINY, progress=False)
    features = tmp_path / "ff" / "features"
    (features / "notes.txt").write_text("mine")
    (features / "chip_backup.pt").write_bytes(b"mine too")
    (features / "sub").mkdir()
    (tmp_path / "ff" / "manifest.parquet").write_bytes(b"garbage")
    with pytest.raises(FolderConflictError, match="unreadable manifest"):
        encode(raster, tmp_path / "ff", model=TINY, progress=False)
    result = encode(raster, tmp_path / "ff", model=TINY, overwrite=True, progress=False)
    assert result.encoded == 12
    assert (features / "notes.txt").read_text() == "mine"
    assert (features / "chip_backup.pt").read_bytes() == b"mine too"
    assert (features / "sub").is_dir()
    assert len(list(features.glob("chip_[0-9]*.pt"))) == 12


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"bands": ","}, "bands"),
        ({"bands": (1, "x")}, "bands"),
        ({"batch_size": "4"}, "batch_size"),
        ({"stride": "x"}, "stride"),
        ({"stride": 0}, "stride"),
        ({"stride": -5}, "stride"),
        ({"range": "a,b"}, "value_range"),
        ({"value_range": "a,b"}, "value_range"),
        ({"dtype": "float8"}, "dtype"),
        ({"resolution": "1"}, "resolution"),
        ({"percentiles": (2,)}, "percentiles"),
        ({"mixed_precision": "yes"}, "mixed_precision"),
        ({"device": 3}, "device"),
        ({"extent": (1, 2)}, "extent"),
    ],
)
def test_python_api_wrong_types_are_settings_errors(make_raster, tmp_path, kwargs, needle):
    with pytest.raises(SettingsError, match=needle) as caught:
        samscape.encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False, **kwargs)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "ff").exists()


@pytest.mark.parametrize(("raster", "out", "needle"), [(3, "ff", "raster"), (None, "ff", "raster"),
                                                       ("r.tif", 7, "out_dir")])
def test_python_api_paths_must_be_paths(tmp_path, raster, out, needle):
    with pytest.raises(SettingsError, match=needle):
        samscape.encode(raster, out, model=TINY, progress=False)


def test_python_api_accepts_lists_and_numpy_numbers():
    settings = EncodeSettings(bands=[3, 2, 1], value_range=[np.float32(1), 200], batch_size=np.int64(2),
                              percentiles=[1, 99], stride=np.int32(64))
    assert settings.bands == (3, 2, 1) and settings.value_range == (1.0, 200.0)
    assert settings.batch_size == 2 and settings.stride == 64 and settings.percentiles == (1.0, 99.0)


def test_an_absurd_grid_is_refused_before_anything_is_allocated(make_raster, tmp_path):
    raster = make_raster()
    started = time.perf_counter()
    with pytest.raises(SettingsError, match=r"chips.*--resolution") as caught:
        encode(str(raster), tmp_path / "ff", model=TINY, resolution=0.00001, progress=False)
    assert time.perf_counter() - started < 10
    count = int(str(caught.value).split(" chips")[0].split()[-1].replace(",", ""))
    assert count > MAX_CHIPS
    assert not (tmp_path / "ff").exists()


@pytest.mark.slow
def test_cli_tiny_resolution_returns_quickly_with_one_line(make_raster, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "samscape.cli.main", "encode", str(make_raster()),
                           str(tmp_path / "ff"), "--model", TINY, "--resolution", "0.00001"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "chips" in lines[0] and "--resolution" in lines[0], proc.stderr


@pytest.mark.parametrize("resolution", [100_000.0, 40.0])
def test_a_resolution_that_shrinks_the_raster_to_a_few_pixels_is_refused(make_raster, tmp_path,
                                                                          resolution):
    """600 x 500 px of 0.5 m: at 40 m it would be 8 x 7 px; at 100 km one pixel, read as nodata."""
    with pytest.raises(SettingsError, match=r"would be \d+ x \d+ px \(at its own, 600 x 500 px\), too "
                                            "few to segment anything; give a finer --resolution"):
        encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False, resolution=resolution)
    assert not (tmp_path / "ff").exists()
    encode(str(make_raster(name="tiny.tif", width=8, height=6)), tmp_path / "small", model=TINY,
           progress=False, resolution=0.5)  # a raster this small at its own resolution is kept


@pytest.mark.parametrize("transform", [
    Affine(0.5, 0.1, 500000, 0.1, -0.5, 4000000),  # rotated
    Affine(0.5, 0.2, 500000, 0, -0.5, 4000000),  # sheared
])
def test_rotated_or_sheared_rasters_are_refused(make_raster, tmp_path, transform):
    raster = make_raster(transform=transform)
    with pytest.raises(SamscapeError, match="gdalwarp") as caught:
        encode(str(raster), tmp_path / "ff", model=TINY, progress=False)
    assert "rotated" in str(caught.value) or "sheared" in str(caught.value)
    assert not (tmp_path / "ff").exists()


def test_zero_stride_is_refused_not_defaulted(make_raster, tmp_path):
    with pytest.raises(SettingsError, match="stride"):
        encode(str(make_raster()), tmp_path / "ff", model=TINY, stride=0, progress=False)
    assert not (tmp_path / "ff").exists()


def test_a_folder_written_before_opens_and_resume_says_why_it_is_refused(make_raster, tmp_path):
    """An older fingerprint (16 hex digits) still opens; resuming on it needs --overwrite."""
    from samscape.features import read_manifest, write_manifest

    raster = str(make_raster())
    encode(raster, tmp_path / "ff", model=TINY, progress=False)
    meta, records = read_manifest(tmp_path / "ff")
    pre = meta.preprocessing.model_copy(update={"source_fingerprint": "0123456789abcdef"})
    write_manifest(tmp_path / "ff", meta.model_copy(update={"preprocessing": pre}), records)
    assert len(FeatureFolder.open(tmp_path / "ff")) == 12
    with pytest.raises(FolderConflictError, match="--overwrite"):
        encode(raster, tmp_path / "ff", model=TINY, progress=False)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"memory_mb": "64"}, "memory_mb"),
    ({"disk_mb": "1"}, "disk_mb"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"bands": ","}, "bands"),
])
def test_live_sources_check_argument_types_too(make_raster, tmp_path, kwargs, needle):
    with pytest.raises(SettingsError, match=needle):
        samscape.open_source(make_raster(), model=TINY, cache_dir=tmp_path / "cache", **kwargs)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("resolution", [1e-300, 1e-320])
@pytest.mark.parametrize("crs", [None, "EPSG:3857"])
def test_resolutions_that_overflow_a_grid_side_are_one_line(make_raster, tmp_path, resolution, crs):
    with pytest.raises(SettingsError, match=r"px a side; give a coarser --resolution") as caught:
        encode(str(make_raster()), tmp_path / "ff", model=TINY, resolution=resolution, crs=crs,
               progress=False)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 250
    assert not (tmp_path / "ff").exists()
