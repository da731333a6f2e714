"""The HTTP API, in process, over a demo scene encoded with the demo model."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rasterio.warp import transform as warp_points
from shapely.geometry import shape

import samscape
from samscape.demo.evaluate import point_prompt
from samscape.serve import Roots, create_app


def _opened(client: TestClient, path: str = "features", **body) -> dict:
    response = client.post("/api/sources", json={"path": path, **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_health_roots_and_openapi(client: TestClient, root: Path) -> None:
    assert client.get("/api/health").json() == {"version": samscape.__version__, "api": 1}
    assert client.get("/api/roots").json() == {"roots": [str(root.resolve())]}
    schema = client.get("/openapi.json").json()
    assert "/api/sources/{source_id}/segment" in schema["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "app.js" in page.text
    assert client.get("/vendor/ol.js").status_code == 200
    models = {m["id"]: m["status"] for m in client.get("/api/models").json()["models"]}
    assert models["demo"] == "built-in" and "sam-vit-base" in models


def test_browse_tells_feature_folders_rasters_and_layers_apart(client: TestClient, root: Path) -> None:
    listing = client.get("/api/browse").json()
    kinds = {e["name"]: e["kind"] for e in listing["entries"]}
    assert kinds == {"features": "features", "notes": "folder", "scene.tif": "raster",
                     "scene_truth.gpkg": "layer"}
    assert [e["name"] for e in listing["entries"]][:2] == ["features", "notes"]  # folders first
    assert listing["parent"] is None
    inner = client.get("/api/browse", params={"path": "features"}).json()
    assert inner["parent"] == str(root.resolve())
    assert any(e["name"] == "manifest.parquet" for e in inner["entries"])


def test_a_point_on_a_building_gives_that_building(client: TestClient, scene, largest) -> None:
    info = _opened(client)
    assert (info["mode"], info["model"], info["crs"]) == ("pre-encoded", "demo", "EPSG:32633")
    assert info["chips"] == info["encoded"] == 25
    assert client.get(f"/api/sources/{info['id']}").json() == info
    building = largest("building")
    (point,) = point_prompt(scene, building.object_id).points
    answer = client.post(f"/api/sources/{info['id']}/segment",
                         json={"points": [{"x": point.x, "y": point.y}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["type"] == "FeatureCollection" and body["crs"] == "EPSG:32633"
    assert len(body["features"]) == 1 and 0 < body["score"] <= 1.5
    polygon = shape(body["features"][0]["geometry"])
    iou = polygon.intersection(building.geometry).area / polygon.union(building.geometry).area
    assert iou >= 0.7  # the demo model averages 0.85 on buildings; this one is a hard one
    # The same click in longitude/latitude: the answer comes back in that CRS.
    (lon,), (lat,) = warp_points("EPSG:32633", "EPSG:4326", [point.x], [point.y])
    geographic = client.post(f"/api/sources/{info['id']}/segment",
                             json={"points": [{"x": lon, "y": lat}], "crs": "EPSG:4326"}).json()
    assert geographic["crs"] == "EPSG:4326"
    as_code = client.post(f"/api/sources/{info['id']}/segment",
                          json={"points": [{"x": lon, "y": lat}], "crs": 4326})
    assert as_code.status_code == 200 and as_code.json()["features"] == geographic["features"]
    (x0, y0, x1, y1) = shape(geographic["features"][0]["geometry"]).bounds
    assert -180 < x0 < x1 < 180 and -90 < y0 < y1 < 90
    xs, ys = warp_points("EPSG:4326", "EPSG:32633", [x0, x1], [y0, y1])
    assert math.isclose(xs[0], polygon.bounds[0], abs_tol=0.05)
    assert math.isclose(ys[1], polygon.bounds[3], abs_tol=0.05)


def test_a_box_and_background_points(client: TestClient, scene, largest) -> None:
    source_id = _opened(client)["id"]
    water = largest("water")
    box = water.geometry.bounds
    body = client.post(f"/api/sources/{source_id}/segment", json={"box": list(box)}).json()
    polygon = shape(body["features"][0]["geometry"])
    assert polygon.intersection(water.geometry).area / polygon.union(water.geometry).area >= 0.8
    # Only a background point marks no object: an empty answer, not an error.
    (point,) = point_prompt(scene, water.object_id).points
    empty = client.post(f"/api/sources/{source_id}/segment",
                        json={"points": [{"x": point.x, "y": point.y, "label": 0}], "box": list(box)})
    assert empty.status_code == 200


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"points": [{"x": 0.0, "y": 0.0}]}, 400, "outside the source"),
    ({}, 400, "foreground point or a box"),
    ('{"points": [{"x": NaN, "y": 1.0}]}', 422, "finite"),
    ('{"points": [{"x": 1e999, "y": 1.0}]}', 422, "finite"),
    ("not json", 422, "JSON"),
    ({"points": [{"x": 1.0, "y": 1.0, "label": 2}]}, 422, "label"),
    ({"points": [{"x": 1.0, "y": 1.0}]} | {"colour": "red"}, 422, "colour"),
    ({"points": [{"x": 1.0, "y": 1.0}] * 201}, 422, "200"),
    ({"box": [1.0, 2.0, 3.0]}, 422, "box"),
    ({"points": [{"x": 1.0, "y": 1.0}], "crs": "EPSG:99999999"}, 400, "CRS"),
    ({"points": [{"x": 1.0, "y": 1.0}], "crs": 4978}, 400, "geocentric, not a map CRS"),
])
def test_bad_prompts_get_a_4xx_with_a_message(client: TestClient, body: dict | str, status: int,
                                              words: str) -> None:
    source_id = _opened(client)["id"]
    url = f"/api/sources/{source_id}/segment"
    response = (client.post(url, json=body) if isinstance(body, dict) else
                client.post(url, content=body, headers={"Content-Type": "application/json"}))
    assert response.status_code == status, response.text
    assert words.lower() in response.text.lower()


def test_paths_stay_under_the_roots(client: TestClient, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    link = root / "escape"
    link.symlink_to(outside, target_is_directory=True)
    try:
        for path in ("../secret", str(outside), "escape", str(root / "features" / ".." / "..")):
            for response in (client.get("/api/browse", params={"path": path}),
                             client.post("/api/sources", json={"path": path})):
                assert response.status_code == 403, (path, response.text)
                assert "--root" in response.text or "'..'" in response.text
        names = [e["name"] for e in client.get("/api/browse").json()["entries"]]
        assert "escape" not in names
    finally:
        link.unlink()
    assert client.post("/api/sources", json={"path": "nothing.tif"}).status_code == 404
    assert client.post("/api/sources", json={"path": "notes"}).status_code == 400
    assert client.get("/api/browse", params={"path": "scene.tif"}).status_code == 404
    assert client.post("/api/sources", json={"path": "scene.tif"}).status_code == 400  # no model
    assert client.get("/api/sources/99").status_code == 404


def test_an_output_linked_outside_the_roots_is_refused_with_or_without_a_layer(
        client: TestClient, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.gpkg"
    link = root / "link.gpkg"
    link.symlink_to(outside)
    try:
        sid = client.post("/api/sessions", json={"source": _opened(client)["id"]}).json()["id"]
        for path in ("link.gpkg", "link.gpkg:objects"):
            response = client.put(f"/api/sessions/{sid}/output", json={"path": path})
            assert response.status_code == 403 and "--root" in response.text, (path, response.text)
            refused = client.post("/api/sessions", json={"source": _opened(client)["id"], "output": path})
            assert refused.status_code == 403, (path, refused.text)
    finally:
        link.unlink()
    assert not outside.exists()


def test_live_mode_encodes_on_demand(client: TestClient, scene, largest) -> None:
    info = _opened(client, "scene.tif", model="demo")
    assert info["mode"] == "live" and info["encoded"] == 0
    assert info["raster"] == str(Path(info["path"]))
    building = largest("building")
    (point,) = point_prompt(scene, building.object_id).points
    body = client.post(f"/api/sources/{info['id']}/segment",
                       json={"points": [{"x": point.x, "y": point.y}]}).json()
    polygon = shape(body["features"][0]["geometry"])
    assert polygon.intersection(building.geometry).area / polygon.union(building.geometry).area >= 0.7
    after = client.get(f"/api/sources/{info['id']}").json()
    assert after["encoded"] == len(set(body["chips"])) >= 1
    assert client.get(f"/api/sources/{info['id']}/progress").json() == {
        "encoding": False, "done": 0, "total": 0}
    chips = client.get(f"/api/sources/{info['id']}/chips").json()["features"]
    assert {c["properties"]["id"] for c in chips if c["properties"]["encoded"]} == set(body["chips"])
    assert client.delete(f"/api/sources/{info['id']}").status_code == 204
    assert client.get(f"/api/sources/{info['id']}").status_code == 404


def test_concurrent_clicks_get_their_own_answers(client: TestClient, scene) -> None:
    source_id = _opened(client)["id"]
    objects = [o for o in scene.objects if o.cls in ("building", "water")][:12]

    def click(obj) -> dict:
        (point,) = point_prompt(scene, obj.object_id).points
        return client.post(f"/api/sources/{source_id}/segment",
                           json={"points": [{"x": point.x, "y": point.y}]}).json()

    alone = [click(o) for o in objects]
    with ThreadPoolExecutor(6) as pool:
        together = list(pool.map(click, objects))
    assert together == alone


def test_a_token_guards_every_call(root: Path) -> None:
    client = TestClient(create_app(Roots.of(root), token="s3cret"), base_url="http://127.0.0.1")
    refused = client.get("/api/health")
    assert refused.status_code == 401 and "token" in refused.json()["detail"]
    assert client.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/api/browse", params={"token": "s3cret"}).status_code == 200


def test_roots_must_exist(tmp_path: Path) -> None:
    with pytest.raises(samscape.errors.PathNotFoundError, match="--root"):
        Roots.of(tmp_path / "missing")
    assert os.path.samefile(Roots.of(tmp_path).resolve("."), tmp_path)
