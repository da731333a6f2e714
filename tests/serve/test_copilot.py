"""The Encoder Copilot over HTTP: chip grids, measured estimates, settings files, encode jobs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import finished_job
from fastapi.testclient import TestClient

from samscape.features import FeatureFolder
from samscape.models.tuning import CPU_BATCH_SIZE


def _plan(client: TestClient, **body) -> dict:
    answer = client.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo", **body})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_grid_follows_overlap_scale_and_extent(client: TestClient, root: Path) -> None:
    plan = _plan(client)
    assert (plan["chips"], plan["chip_size"], plan["stride"]) == (25, 256, 128)
    assert len(plan["grid"]["features"]) == 25 and plan["crs"] == "EPSG:32633"
    assert plan["estimate"] is None and plan["bands"] == [1, 2, 3]
    assert plan["settings"] == {"model": "demo", "percentiles": [2.0, 98.0], "stride": 128,
                                "dtype": "float16"}  # batch size auto: each machine's own
    assert _plan(client, batch_size=3)["settings"]["batch-size"] == 3
    assert _plan(client, overlap=0)["chips"] == 9
    coarse = _plan(client, resolution_scale=2)
    assert coarse["chips"] == 4 and coarse["settings"]["resolution"] == 1.0
    xmin, ymin, xmax, ymax = plan["extent"]
    part = _plan(client, extent=[xmin, ymin, xmin + 192, ymin + 192], value_range=[10, 200],
                 bands=[3, 2, 1])
    assert part["chips"] == 4 and part["extent"] == [xmin, ymin, xmin + 192, ymin + 192]
    assert part["value_range"] == [10, 200] and part["bands"] == [3, 2, 1]
    assert part["settings"]["extent"].endswith("@EPSG:32633")


def test_an_extent_in_another_crs_is_transformed_by_the_engine(client: TestClient, root: Path) -> None:
    from rasterio.warp import transform_bounds

    xmin, ymin, _, _ = _plan(client)["extent"]
    utm = (xmin + 20, ymin + 20, xmin + 180, ymin + 180)  # 320 px: 2 × 2 chips, with room to grow
    wgs84 = transform_bounds("EPSG:32633", "EPSG:4326", *utm)
    part = _plan(client, extent=list(wgs84), extent_crs="EPSG:4326")
    assert part["chips"] == 4 and part["crs"] == "EPSG:32633"
    assert part["settings"]["extent"].endswith("@EPSG:4326")
    got = part["extent"]
    assert got[0] <= utm[0] < got[0] + 1 and got[1] <= utm[1] < got[1] + 1
    assert got[2] - 1 < utm[2] <= got[2] and got[3] - 1 < utm[3] <= got[3]
    assert client.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo", "extent": wgs84,
                                                  "extent_crs": "EPSG:nope"}).status_code == 400


def test_a_measured_estimate_matches_the_real_chip_files(client: TestClient, root: Path) -> None:
    plan = _plan(client, measure=True)
    estimate = plan["estimate"]
    assert estimate["seconds_per_chip"] > 0 and estimate["measured_chips"] == CPU_BATCH_SIZE  # auto
    assert estimate["seconds"] == estimate["seconds_per_chip"] * 25
    real = sorted(p.stat().st_size for p in (root / "features" / "features").glob("*.pt"))
    assert real[0] <= estimate["bytes_per_chip"] <= real[-1]
    assert estimate["disk_bytes"] == 25 * estimate["bytes_per_chip"]
    assert _plan(client, overlap=0)["estimate"]["seconds_per_chip"] == estimate["seconds_per_chip"]
    assert _plan(client, measure=True, batch_size=3)["estimate"]["measured_chips"] == 3


@pytest.mark.slow
def test_the_settings_file_encodes_with_samscape_encode(client: TestClient, root: Path) -> None:
    plan = _plan(client, overlap=25, bands=[2, 2, 1], value_range=[5, 250])
    settings = root / "copilot.json"
    settings.write_text(json.dumps(plan["settings"]))
    out = root / "from-settings"
    run = subprocess.run([sys.executable, "-m", "samscape.cli.main", "encode", str(root / "scene.tif"),
                          str(out), "--settings", str(settings)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    pre = FeatureFolder.open(out).metadata.preprocessing
    assert (pre.stride, pre.bands, pre.value_range) == (plan["stride"], (2, 2, 1), (5.0, 250.0))
    assert len(FeatureFolder.open(out).records) == plan["chips"]


def test_encode_now_runs_in_the_background_and_can_be_loaded(client: TestClient, root: Path) -> None:
    started = client.post("/api/jobs/encode", json={"raster": "scene.tif", "model": "demo",
                                                     "overlap": 0, "out": "job-features"})
    assert started.status_code == 202, started.text
    job = finished_job(client, started.json(), 30)
    assert job["state"] == "done" and job["encoded"] == 9 and job["done"] == job["total"] == 9
    info = client.post("/api/sources", json={"path": "job-features"}).json()
    assert info["chips"] == info["encoded"] == 9 and info["raster"] == str(root / "scene.tif")


def test_bad_copilot_requests_get_4xx(client: TestClient, root: Path) -> None:
    base = {"raster": "scene.tif", "model": "demo"}
    assert client.post("/api/copilot/plan", json={**base, "overlap": 95}).status_code == 422
    for batch_size in (0, 65, "big", 2.5):
        assert client.post("/api/copilot/plan", json={**base, "batch_size": batch_size}).status_code == 422
    assert client.post("/api/copilot/plan", json={**base, "resolution_scale": 0}).status_code == 422
    assert client.post("/api/copilot/plan", json={**base, "bands": [9]}).status_code == 400
    assert client.post("/api/copilot/plan", json={**base, "model": "nope"}).status_code == 404
    assert client.post("/api/copilot/plan", json={**base, "raster": "none.tif"}).status_code == 404
    assert client.post("/api/copilot/plan", json={**base, "raster": "../x.tif"}).status_code == 403
    (root / "notes" / "keep.txt").write_text("mine")
    not_empty = client.post("/api/jobs/encode", json={**base, "out": "notes"})
    assert not_empty.status_code == 400 and "not empty" in not_empty.json()["detail"]
    assert (root / "notes" / "keep.txt").read_text() == "mine"
    assert client.post("/api/jobs/encode", json={**base, "out": "a/b/c"}).status_code == 404
    for bad in ({"bands": [99]}, {"value_range": [200, 10]}):  # refused before a job starts
        refused = client.post("/api/jobs/encode", json={**base, **bad, "out": "new"})
        assert refused.status_code == 400, refused.text
    assert not (root / "new").exists()
    assert client.get("/api/jobs/99").status_code == 404
