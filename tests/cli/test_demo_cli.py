"""`samscape demo`: the whole workflow end to end, in a real process, on a generated scene."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
import rasterio

from samscape.vector import FIELDS


def _demo(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "samscape.cli.main", "demo", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "run"
    done = _demo("--out", str(out), "--size", "1024", "--seed", "3", "--json")
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


@pytest.mark.slow
def test_demo_reports_iou_per_class(demo_run) -> None:
    out, report = demo_run
    assert {"mean_iou", "iou_by_class", "folder", "output"} <= report.keys()
    assert set(report["iou_by_class"]) <= {"building", "water", "field", "road", "tree"}
    assert "building" in report["iou_by_class"]
    assert report["mean_iou"] >= 0.6
    assert Path(report["folder"]) == out / "features"
    assert (out / "features" / "manifest.parquet").is_file()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_demo_polygons_open_with_pyogrio(demo_run) -> None:
    out, report = demo_run
    info = pyogrio.read_info(report["output"])
    assert info["features"] >= report["objects"] * 0.9
    assert list(info["fields"]) == list(FIELDS)
    with rasterio.open(report["raster"]) as ds:
        assert info["crs"] == f"EPSG:{ds.crs.to_epsg()}"
    with rasterio.open(report["preview"]) as png:
        assert png.count == 3 and png.width == 1024


@pytest.mark.slow
def test_demo_refuses_to_overwrite_a_previous_run(demo_run) -> None:
    out, report = demo_run
    before = Path(report["output"]).stat().st_mtime_ns
    done = _demo("--out", str(out), "--size", "1024", "-q")
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "already exists" in done.stderr
    assert "Traceback" not in done.stderr
    assert Path(report["output"]).stat().st_mtime_ns == before


@pytest.mark.slow
@pytest.mark.parametrize("device", ["tpu", "cuda"])
def test_demo_on_a_device_it_cannot_use_leaves_nothing(tmp_path, device) -> None:
    import torch

    if device == "cuda" and torch.cuda.is_available():
        device = "nosuchdevice"
    done = _demo("--out", str(tmp_path / "run"), "--size", "256", "--device", device, "-q")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "device" in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_demo_into_a_read_only_folder_is_one_line(read_only_dir) -> None:
    done = _demo("--out", str(read_only_dir / "run"), "--size", "256", "-q")
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "cannot write" in done.stderr
