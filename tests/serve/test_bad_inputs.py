"""Malformed paths, huge coordinates and the page's wording, against a real server on loopback:
every answer is a 4xx with a one-line `detail`, never a 500."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from samscape.demo.evaluate import point_prompt
from samscape.errors import SettingsError
from samscape.serve import Roots, create_app

from .conftest import Served

BAD_PATHS = {
    "nul byte": "scene\x00.tif",
    "name over 255": "x" * 300 + ".gpkg",
    "unknown user": "~nosuchuser/x.gpkg",
    "over PATH_MAX": "a/" * 2040 + "x.tif",
    "long folder name": "notes/" + "y" * 256 + "/x.tif",
}


def _path_requests(served: Served, path: str) -> dict:
    """Every route that takes a path, asked with `path`."""
    http = served.http
    source = http.post("/api/sources", json={"path": "features"}).json()["id"]
    session = http.post("/api/sessions", json={"source": source}).json()["id"]
    encode = {"model": "demo"}
    return {
        "browse": lambda: http.get("/api/browse", params={"path": path}),
        "open source": lambda: http.post("/api/sources", json={"path": path}),
        "open with raster": lambda: http.post("/api/sources", json={"path": "features", "raster": path}),
        "session output": lambda: http.post("/api/sessions", json={"source": source, "output": path}),
        "set output": lambda: http.put(f"/api/sessions/{session}/output", json={"path": path}),
        "plan": lambda: http.post("/api/copilot/plan", json={**encode, "raster": path}),
        "job raster": lambda: http.post("/api/jobs/encode", json={**encode, "raster": path, "out": "j"}),
        "job out": lambda: http.post("/api/jobs/encode",
                                     json={**encode, "raster": "scene.tif", "out": path}),
        "download": lambda: http.get(f"/api/sessions/{session}/download"),
    }


def _one_line_4xx(response) -> str:
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail, detail
    return detail


@pytest.mark.parametrize("kind", BAD_PATHS)
def test_a_bad_path_is_a_4xx_on_every_route(served: Served, kind: str) -> None:
    for route, ask in _path_requests(served, BAD_PATHS[kind]).items():
        response = ask()
        assert response.status_code < 500, (kind, route, response.text)
        _one_line_4xx(response)
    assert served.http.get("/api/health").status_code == 200


def test_a_bad_path_says_what_is_wrong(served: Served) -> None:
    http = served.http
    assert "NUL" in _one_line_4xx(http.get("/api/browse", params={"path": "a\x00b"}))
    assert "255" in _one_line_4xx(http.post("/api/sources", json={"path": "x" * 300}))
    assert "nosuchuser" in _one_line_4xx(http.post("/api/sources", json={"path": "~nosuchuser/f"}))


@pytest.mark.parametrize("huge", [1e308, -1e308, 1e300])
def test_huge_coordinates_are_a_4xx(served: Served, huge: float) -> None:
    http = served.http
    source = http.post("/api/sources", json={"path": "features"}).json()["id"]
    session = http.post("/api/sessions", json={"source": source}).json()["id"]
    box = [-abs(huge), -abs(huge), abs(huge), abs(huge)]
    point = {"x": huge, "y": -huge}
    for response in (
        http.post(f"/api/sources/{source}/segment", json={"box": box}),
        http.post(f"/api/sources/{source}/segment", json={"points": [point]}),
        http.post(f"/api/sources/{source}/segment", json={"box": box, "crs": "EPSG:4326"}),
        http.post(f"/api/sessions/{session}/box", json={"box": box}),
        http.post(f"/api/sessions/{session}/points", json=point),
        http.post(f"/api/sessions/{session}/preview", json={"box": box}),
        http.post(f"/api/sessions/{session}/preview", json=point),
        http.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo", "extent": box}),
        http.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo",
                                             "value_range": [-abs(huge), abs(huge)]}),
    ):
        _one_line_4xx(response)


def test_numbers_must_be_json_numbers_and_points_whole(served: Served) -> None:
    http = served.http
    source = http.post("/api/sources", json={"path": "features"}).json()["id"]
    session = http.post("/api/sessions", json={"source": source}).json()["id"]
    xmin, ymin, xmax, ymax = http.get(f"/api/sources/{source}").json()["extent"]
    x, y = (xmin + xmax) // 2, (ymin + ymax) / 2
    for body, field in (({"x": x, "y": y, "label": True}, "label"), ({"x": x, "y": y, "label": 1.0}, "label"),
                        ({"x": True, "y": y}, "x"), ({"x": str(x), "y": y}, "x")):
        assert _one_line_4xx(http.post(f"/api/sessions/{session}/points", json=body)).startswith(field)
    assert "both x and y" in _one_line_4xx(http.post(f"/api/sessions/{session}/preview", json={"x": x}))
    plan = {"raster": "scene.tif", "model": "demo"}
    for extra in ({"overlap": "50"}, {"bands": [True]}, {"measure": 1}, {"batch_size": 2.0}):
        _one_line_4xx(http.post("/api/copilot/plan", json={**plan, **extra}))
    assert http.post(f"/api/sessions/{session}/points", json={"x": int(x), "y": y}).status_code == 200
    broken = http.post(f"/api/sessions/{session}/points", content=b"{not json",
                       headers={"content-type": "application/json"})
    assert _one_line_4xx(broken).startswith("body: not valid JSON; send a JSON object")
    for unreadable in (b'{"x": ' + b"9" * 5000 + b', "y": 1}', b"[" * 100_000 + b"]" * 100_000):
        said = _one_line_4xx(http.post(f"/api/sessions/{session}/points", content=unreadable,
                                       headers={"content-type": "application/json"}))
        assert said.startswith("body: not JSON samscape can read"), said
    assert http.get("/api/nowhere").status_code == 404  # Starlette's own answers stay
    as_text = http.post(f"/api/sessions/{session}/points", content=b"x=1",
                        headers={"content-type": "text/plain"})
    assert "Content-Type: application/json" in _one_line_4xx(as_text)
    assert _one_line_4xx(http.post("/api/copilot/plan", json={**plan, "overlap": 95})).startswith(
        "overlap (Overlap %): ")
    assert len(_one_line_4xx(http.get("/api/sessions/" + "9" * 5000))) < 300


@pytest.mark.parametrize("crs", ["EPSG:bogus", "EPSG:99999999", "+proj=nope", "EPSG:-1"])
def test_an_unknown_crs_is_a_4xx(served: Served, crs: str) -> None:
    http = served.http
    source = http.post("/api/sources", json={"path": "features"}).json()["id"]
    assert "CRS" in _one_line_4xx(http.post(f"/api/sources/{source}/segment",
                                            json={"points": [{"x": 1, "y": 1}], "crs": crs}))
    assert "CRS" in _one_line_4xx(http.post("/api/sessions", json={"source": source, "crs": crs}))


def test_messages_name_the_pages_fields_not_the_clis_flags(served: Served) -> None:
    http = served.http
    no_model = _one_line_4xx(http.post("/api/sources", json={"path": "scene.tif"}))
    assert "Model" in no_model and "--" not in no_model, no_model
    other_model = _one_line_4xx(http.post("/api/sources", json={"path": "features",
                                                               "model": "tiny-random-sam"}))
    assert "Model" in other_model and "--" not in other_model, other_model
    missing = _one_line_4xx(http.post("/api/sources", json={"path": "nothing.tif"}))
    assert missing.startswith("no such file") and "a raster:" not in missing, missing
    flat = _one_line_4xx(http.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo",
                                                             "value_range": [5, 5]}))
    assert "Range min" in flat and "--" not in flat, flat
    huge = _one_line_4xx(http.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo",
                                                              "resolution_scale": 0.001}))
    assert "Resolution ×" in huge and "--" not in huge, huge
    assert _one_line_4xx(http.post("/api/copilot/plan", json={
        "raster": "nothing.tif", "model": "demo"})).startswith("no such file")
    # A background encoding into a folder holding another encoding fails; its error too.
    job = http.post("/api/jobs/encode", json={"raster": "scene.tif", "model": "demo", "out": "features",
                                              "bands": [1]})
    assert job.status_code == 202, job.text
    state = job.json()
    for _ in range(300):
        if state["state"] != "running":
            break
        time.sleep(0.05)
        state = http.get(f"/api/jobs/{state['id']}").json()
    assert state["state"] == "failed" and "Output folder" in state["error"], state
    assert "--" not in state["error"], state["error"]


def test_a_symlink_loop_is_left_out_of_listings_and_refused(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "kept").mkdir()
    with Served(create_app(Roots.of(tmp_path))) as served:
        listing = served.http.get("/api/browse")
        assert listing.status_code == 200, listing.text
        assert [e["name"] for e in listing.json()["entries"]] == ["kept"]
        for response in (served.http.get("/api/browse", params={"path": "loop"}),
                         served.http.post("/api/sources", json={"path": "loop/x.tif"}),
                         served.http.post("/api/copilot/plan", json={"raster": "loop", "model": "demo"})):
            assert "loop" in _one_line_4xx(response)


def test_a_layer_named_outside_ascii_downloads_under_its_name(served: Served, small_scene,
                                                               small_root: Path) -> None:
    http = served.http
    source = http.post("/api/sources", json={"path": "features"}).json()["id"]
    name = "relevé 道路.gpkg"  # not latin-1, which HTTP headers are
    session = http.post("/api/sessions", json={"source": source, "output": name}).json()["id"]
    building = max((o for o in small_scene.objects if o.cls == "building"), key=lambda o: o.geometry.area)
    (point,) = point_prompt(small_scene, building.object_id).points
    assert http.post(f"/api/sessions/{session}/points", json={"x": point.x, "y": point.y}).status_code == 200
    assert http.post(f"/api/sessions/{session}/save").status_code == 200
    download = http.get(f"/api/sessions/{session}/download")
    assert download.status_code == 200, download.text
    assert download.content == (small_root / name).read_bytes()
    disposition = download.headers["content-disposition"]
    assert "filename*=UTF-8''relev%C3%A9%20%E9%81%93%E8%B7%AF.gpkg" in disposition, disposition
    assert 'filename="relev_.gpkg"' in disposition, disposition  # for old clients


def test_a_path_no_file_system_can_encode_is_a_settings_error(tmp_path: Path) -> None:
    """Pydantic refuses lone surrogates in bodies; `Roots` is also used by `samscape serve SOURCE`."""
    with pytest.raises(SettingsError, match="cannot be encoded"):
        Roots.of(tmp_path).resolve("a\ud800.tif")
