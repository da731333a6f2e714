"""Model management over HTTP (what the QGIS plugin's model panel uses): list, download as a job,
import a folder under the roots, remove."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from samscape.models import load_backend
from samscape.serve import Roots, create_app


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    """A root holding a tiny SAM saved as transformers saves it, ready to import."""
    load_backend("tiny-random-sam", device="cpu").model.save_pretrained(tmp_path / "my-model")
    return tmp_path


@pytest.fixture
def http(app_root: Path) -> TestClient:
    return TestClient(create_app(Roots.of(app_root)), base_url="http://127.0.0.1")


def _statuses(http: TestClient) -> dict[str, str]:
    return {m["id"]: m["status"] for m in http.get("/api/models").json()["models"]}


def _finished(http: TestClient, job: dict) -> dict:
    deadline = time.monotonic() + 30
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = http.get(f"/api/jobs/{job['id']}").json()
    return job


def test_import_list_and_remove(http: TestClient) -> None:
    assert "my-sam" not in _statuses(http)
    imported = http.post("/api/models/import", json={"path": "my-model", "id": "my-sam"})
    assert imported.status_code == 201 and imported.json()["status"] == "imported"
    assert _statuses(http)["my-sam"] == "imported"
    again = http.post("/api/models/import", json={"path": "my-model", "id": "my-sam"})
    assert again.status_code == 400 and "\n" not in again.json()["detail"]
    assert http.delete("/api/models/my-sam").status_code == 204
    assert "my-sam" not in _statuses(http)
    gone = http.delete("/api/models/my-sam")
    assert gone.status_code == 404


def test_an_imported_model_segments_live(http: TestClient, make_raster) -> None:
    """The store the API writes is the one sources load from."""
    http.post("/api/models/import", json={"path": "my-model", "id": "my-sam"}).raise_for_status()
    raster = make_raster(width=300, height=300)
    opened = TestClient(create_app(Roots.of(raster.parent)), base_url="http://127.0.0.1").post(
        "/api/sources", json={"path": raster.name, "model": "my-sam"})
    assert opened.status_code == 201 and opened.json()["model"] == "my-sam"


def test_bad_requests_are_one_line_4xx(http: TestClient, tmp_path: Path) -> None:
    unknown = http.post("/api/models/no-such-model/download")
    assert unknown.status_code == 404 and "no-such-model" in unknown.json()["detail"]
    outside = http.post("/api/models/import", json={"path": str(tmp_path.parent), "id": "x"})
    assert outside.status_code == 403
    builtin = http.delete("/api/models/demo")
    assert builtin.status_code == 400 and "built in" in builtin.json()["detail"]
    bad_id = http.post("/api/models/import", json={"path": "my-model", "id": "Not Valid"})
    assert bad_id.status_code == 400
    assert http.post("/api/models/import", json={"path": "my-model"}).status_code == 422


def test_a_download_is_a_job_that_says_why_it_failed_offline(http: TestClient) -> None:
    started = http.post("/api/models/sam-vit-base/download")
    assert started.status_code == 202
    job = started.json()
    assert job["kind"] == "download" and job["model"] == "sam-vit-base"
    job = _finished(http, job)
    assert job["state"] == "failed" and "could not be downloaded" in job["error"]
    assert "\n" not in job["error"] and _statuses(http)["sam-vit-base"] != "downloaded"


def test_the_list_gives_each_models_size_on_disk(http: TestClient, app_root: Path) -> None:
    http.post("/api/models/import", json={"path": "my-model", "id": "my-sam"}).raise_for_status()
    sizes = {m["id"]: m["size_bytes"] for m in http.get("/api/models").json()["models"]}
    weights = (app_root / "my-model" / "model.safetensors").stat().st_size
    assert weights < sizes["my-sam"] < weights + 100_000
    assert sizes["demo"] > 1_000_000  # bundled with the package
    assert sizes["sam-vit-base"] is None and sizes["tiny-random-sam"] is None


def test_a_folder_whose_model_is_gone_names_it(http: TestClient, app_root: Path, make_raster) -> None:
    """Opening a folder encoded with a model that was then removed answers the model's id, so a
    client can offer to download or import it."""
    import samscape

    http.post("/api/models/import", json={"path": "my-model", "id": "my-sam"}).raise_for_status()
    raster = make_raster(width=256, height=256)
    samscape.encode(str(raster), app_root / "features", model="my-sam", progress=False)
    http.delete("/api/models/my-sam").raise_for_status()
    answer = http.post("/api/sources", json={"path": "features"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["missing_model"] == "my-sam"
    assert "'my-sam', which is not on this machine" in answer.json()["detail"]
    assert "samscape models import FOLDER --id my-sam" in answer.json()["detail"]
