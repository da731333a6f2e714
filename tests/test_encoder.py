"""End-to-end encoding into feature folders with the tiny models, on real GeoTIFFs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas
import numpy as np
import pytest
import torch
from rasterio.windows import Window as RioWindow
from rasterio.windows import transform as window_transform
from shapely import union_all

from samscape.encoder import encode
from samscape.errors import BandError, ExtentError, FolderConflictError, SettingsError
from samscape.features import FeatureFolder, prepare_folder
from samscape.geo import ChipGrid
from samscape.settings import EncodeSettings

TINY = "tiny-random-sam"


def test_folder_round_trip(make_raster, tmp_path):
    raster = make_raster(width=600, height=500)
    result = encode(str(raster), tmp_path / "ff", model=TINY, progress=False)
    folder = FeatureFolder.open(tmp_path / "ff")
    grid = ChipGrid(folder.metadata.preprocessing.grid.to_grid(), 256, 128)
    assert result.encoded == len(folder) == len(grid) == 4 * 3
    manifest = geopandas.read_parquet(tmp_path / "ff" / "manifest.parquet")
    assert manifest.crs.to_epsg() == 32633
    assert union_all(manifest.geometry).symmetric_difference(grid.grid.footprint).area < 1e-6
    for row, chip in zip(manifest.itertuples(), grid, strict=True):
        assert row.chip_id == chip.chip_id
        assert not Path(row.feature_path).is_absolute() and row.feature_path.startswith("features/")
        expected = window_transform(RioWindow(chip.window.col_off, chip.window.row_off, 256, 256),
                                    grid.grid.transform)
        assert np.allclose(row.transform, list(expected)[:6])
        assert (row.res_x, row.res_y) == (0.5, 0.5)
        payload = torch.load(tmp_path / "ff" / row.feature_path, weights_only=True)
        assert payload["features"]["image_embeddings"].dtype == torch.float16
    meta = folder.metadata
    assert meta.model.id == TINY and len(meta.model.weights_sha256) == 64
    assert meta.preprocessing.bands == (1, 2, 3) and meta.format_version == 1


def test_relocated_folder_opens_unchanged(make_raster, tmp_path):
    encode(str(make_raster()), tmp_path / "a", model=TINY, progress=False)
    before = FeatureFolder.open(tmp_path / "a").load_chip(3)
    shutil.move(tmp_path / "a", tmp_path / "moved")
    after = FeatureFolder.open(tmp_path / "moved").load_chip(3)
    assert torch.equal(before["image_embeddings"], after["image_embeddings"])


def test_resume_skips_written_chips(make_raster, tmp_path):
    """A complete folder resumes without writing anything, so it resumes on read-only media."""
    raster = str(make_raster())
    first = encode(raster, tmp_path / "ff", model=TINY, progress=False)

    def files() -> dict[Path, tuple[int, int]]:
        return {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in (tmp_path / "ff").rglob("*")}

    before = files()
    again = encode(raster, tmp_path / "ff", model=TINY, progress=False)
    assert again.encoded == 0 and again.already_done == first.encoded
    assert files() == before
    (tmp_path / "ff" / "features" / "chip_000003.pt").unlink()
    healed = encode(raster, tmp_path / "ff", model=TINY, progress=False)
    assert healed.encoded == 1
    assert sorted(FeatureFolder.open(tmp_path / "ff").records) == list(range(first.encoded))


@pytest.mark.slow
def test_killed_encoding_resumes_to_the_same_folder(make_raster, tmp_path):
    raster = str(make_raster(width=1600, height=1600))
    cmd = [sys.executable, "-m", "samscape.cli.main", "encode", raster, str(tmp_path / "killed"),
           "--model", TINY, "--batch-size", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    features = tmp_path / "killed" / "features"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if features.is_dir() and len(list(features.glob("chip_*.pt"))) >= 20:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    grid_chips = 12 * 12
    written = len(list(features.glob("chip_*.pt")))
    assert 20 <= written < grid_chips, "the run must be killed midway"
    resumed = encode(raster, tmp_path / "killed", model=TINY, batch_size=1, progress=False)
    assert resumed.encoded == grid_chips - resumed.already_done
    encode(raster, tmp_path / "clean", model=TINY, batch_size=1, progress=False)
    killed, clean = FeatureFolder.open(tmp_path / "killed"), FeatureFolder.open(tmp_path / "clean")
    assert sorted(killed.records) == sorted(clean.records) == list(range(grid_chips))
    assert killed.metadata.same_encoding(clean.metadata)
    assert not killed.problems()
    assert not list(features.glob(".*"))
    for chip_id in (0, 100, grid_chips - 1):
        a, b = killed.load_chip(chip_id), clean.load_chip(chip_id)
        assert torch.equal(a["image_embeddings"], b["image_embeddings"])


def test_different_encoding_is_refused_without_overwrite(make_raster, tmp_path):
    raster = str(make_raster())
    encode(raster, tmp_path / "ff", model=TINY, progress=False)
    manifest = (tmp_path / "ff" / "manifest.parquet").read_bytes()
    with pytest.raises(FolderConflictError, match="--overwrite"):
        encode(raster, tmp_path / "ff", model=TINY, bands=(1,), progress=False)
    assert (tmp_path / "ff" / "manifest.parquet").read_bytes() == manifest
    encode(raster, tmp_path / "ff", model=TINY, bands=(1,), overwrite=True, progress=False)
    meta = FeatureFolder.open(tmp_path / "ff").metadata
    assert meta.preprocessing.bands == (1, 1, 1)
    other_weights = meta.model_copy(update={"model": meta.model.model_copy(update={"revision": "v2"})})
    with pytest.raises(FolderConflictError, match=r"different encoding \(model revision .*, not v2\)"):
        prepare_folder(tmp_path / "ff", other_weights, False)


STALLED_ENCODER = """
import sys, time
import samscape

def stall(done, total):
    print("encoding", flush=True)
    time.sleep(600)

samscape.encode(sys.argv[1], sys.argv[2], model="tiny-random-sam", batch_size=1, progress=stall)
"""


def test_a_second_encoding_into_a_folder_being_encoded_is_refused(make_raster, tmp_path):
    """Across processes (a flock, freed when the holder is killed) and across threads."""
    raster, out = str(make_raster()), tmp_path / "ff"
    script = tmp_path / "stalled.py"
    script.write_text(STALLED_ENCODER)
    proc = subprocess.Popen([sys.executable, str(script), raster, str(out)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "encoding\n"
        with pytest.raises(FolderConflictError, match="another samscape encoding is writing"):
            encode(raster, out, model=TINY, progress=False)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    started, release = threading.Event(), threading.Event()

    def stall(done: int, total: int) -> None:
        started.set()
        release.wait(60)

    first = ThreadPoolExecutor(1).submit(encode, raster, out, model=TINY, batch_size=1, progress=stall)
    try:
        assert started.wait(60)
        with pytest.raises(FolderConflictError, match="another samscape encoding"):
            encode(raster, out, model=TINY, progress=False)
    finally:
        release.set()
    assert first.result().encoded + first.result().already_done == 12
    assert sorted(FeatureFolder.open(out).records) == list(range(12))


def test_non_feature_folder_is_never_touched(make_raster, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep")
    with pytest.raises(FolderConflictError):
        encode(str(make_raster()), target, model=TINY, overwrite=True, progress=False)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"bands": (4,)}, BandError),
        ({"extent": "0,0,10,10"}, ExtentError),
        ({"value_range": (5, 5)}, SettingsError),
        ({"stride": 999}, SettingsError),
    ],
)
def test_bad_settings_leave_no_folder(make_raster, tmp_path, kwargs, error):
    with pytest.raises(error):
        encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False, **kwargs)
    assert not (tmp_path / "ff").exists()


def test_nodata_chips_are_skipped_and_pixels_zeroed(make_raster, tmp_path):
    data = np.full((1, 500, 600), 7, dtype="uint16")
    data[:, :260, :260] = 0
    data[:, 300:, 300:] = 1000
    raster = make_raster(data=data, nodata=0)
    result = encode(str(raster), tmp_path / "ff", model=TINY, progress=False)
    folder = FeatureFolder.open(tmp_path / "ff")
    assert result.nodata == 1 and 0 not in folder.records
    assert folder.metadata.skipped_chip_ids == (0,)
    assert folder.summary()["complete"] and folder.summary()["nodata_chip_count"] == 1


def test_float32_storage_and_extent_in_another_crs(make_raster, tmp_path):
    raster = make_raster(width=800, height=800)
    settings = EncodeSettings(model="tiny-random-sam2", dtype="float32",
                              extent="15.0001,36.1416,15.0020,36.1430@EPSG:4326")
    encode(str(raster), tmp_path / "ff", settings, progress=False)
    folder = FeatureFolder.open(tmp_path / "ff")
    chip = folder.load_chip(min(folder.records))
    assert set(chip) == {"image_embeddings", "high_res_feats_0", "high_res_feats_1"}
    assert all(t.dtype == torch.float32 for t in chip.values())
    grid = folder.metadata.preprocessing.grid.to_grid()
    assert grid.width < 800 and grid.height < 800


def test_reprojected_encoding_records_target_crs(make_raster, tmp_path):
    encode(str(make_raster()), tmp_path / "ff", model=TINY, crs="EPSG:3857", resolution=1.0,
           progress=False)
    summary = FeatureFolder.open(tmp_path / "ff").summary()
    assert summary["crs"] == "EPSG:3857"
    assert summary["preprocessing"]["resolution"] == [1.0, 1.0]


def test_settings_file_keys_are_the_encode_flags():
    from samscape.cli.encode import encode_command
    from samscape.settings import FILE_KEYS

    flags = {opt.removeprefix("--") for param in encode_command.params for opt in param.opts}
    assert set(FILE_KEYS) <= flags


def test_corrupt_chip_is_named(make_raster, tmp_path):
    encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    chip = tmp_path / "ff" / "features" / "chip_000002.pt"
    chip.write_bytes(chip.read_bytes()[:100])
    os.remove(tmp_path / "ff" / "features" / "chip_000005.pt")
    problems = FeatureFolder.open(tmp_path / "ff").problems()
    assert sorted(problems) == [2, 5]
    assert "corrupt" in problems[2] and "missing" in problems[5]
    resumed = encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    assert resumed.encoded == 1  # the missing chip; a recorded chip is trusted on resume
    problems = FeatureFolder.open(tmp_path / "ff").problems()
    assert sorted(problems) == [2] and f"delete '{chip}'" in problems[2]
    chip.unlink()  # as the message says
    resumed = encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    assert resumed.encoded == 1 and not FeatureFolder.open(tmp_path / "ff").problems()


def test_gdal_virtual_path_and_package_api(make_raster, tmp_path):
    import zipfile

    import samscape

    raster = make_raster()
    with zipfile.ZipFile(tmp_path / "scene.zip", "w") as archive:
        archive.write(raster, "scene.tif")
    result = samscape.encode(f"/vsizip/{tmp_path / 'scene.zip'}/scene.tif", tmp_path / "ff",
                             model=TINY, progress=False)
    folder = samscape.FeatureFolder.open(tmp_path / "ff")
    assert result.encoded == len(folder) == 12
    assert folder.metadata.preprocessing.source_name == "scene.tif"


def test_leftovers_of_a_run_killed_before_its_first_manifest_are_resumed(make_raster, tmp_path):
    (tmp_path / "ff" / "features").mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()  # the killed run's process: no longer running
    (tmp_path / "ff" / f".manifest.parquet.{gone.pid}.tmp").write_bytes(b"partial")
    result = encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    assert result.encoded == 12
    assert sorted(p.name for p in (tmp_path / "ff").iterdir()) == ["features", "manifest.parquet"]
