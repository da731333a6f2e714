"""Sessions over HTTP: prompts, preview, undo, clear, save to a real layer, undo save, download."""

from __future__ import annotations

import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import shape

from samscape.demo.evaluate import point_prompt


def _iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


@pytest.fixture
def source_id(client: TestClient) -> str:
    return client.post("/api/sources", json={"path": "features"}).json()["id"]


def _session(client: TestClient, source_id: str, **body) -> dict:
    answer = client.post("/api/sessions", json={"source": source_id, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _point(scene, obj) -> dict:
    (point,) = point_prompt(scene, obj.object_id).points
    return {"x": point.x, "y": point.y}


def test_prompts_undo_clear_and_preview(client: TestClient, source_id: str, scene, largest) -> None:
    sid = _session(client, source_id)["id"]
    building = largest("building")
    state = client.post(f"/api/sessions/{sid}/points", json=_point(scene, building)).json()
    assert len(state["points"]) == 1 and state["output"] is None
    first = shape(state["result"]["features"][0]["geometry"])
    assert _iou(first, building.geometry) >= 0.7 and state["result"]["cut_off"] is False

    far = scene.grid.bounds
    background = {"x": far.xmin + 3, "y": far.ymin + 3, "label": 0}
    state = client.post(f"/api/sessions/{sid}/points", json=background).json()
    assert [p["label"] for p in state["points"]] == [1, 0]
    box = list(building.geometry.buffer(2).bounds)
    state = client.post(f"/api/sessions/{sid}/box", json={"box": box}).json()
    assert state["box"] == box and state["result"]["features"]

    state = client.post(f"/api/sessions/{sid}/undo").json()
    assert state["box"] is None and len(state["points"]) == 2
    preview = client.post(f"/api/sessions/{sid}/preview", json={"box": box}).json()
    assert preview["features"] and client.get(f"/api/sessions/{sid}").json() == state  # nothing kept

    state = client.post(f"/api/sessions/{sid}/clear").json()
    assert state["points"] == [] and state["result"] is None
    assert client.post(f"/api/sessions/{sid}/preview", json={}).json() is None
    hover = client.post(f"/api/sessions/{sid}/preview", json=_point(scene, building)).json()
    assert shape(hover["features"][0]["geometry"]).equals(first)


def test_save_writes_the_layer_and_undo_save_removes_exactly_that_group(
        client: TestClient, source_id: str, scene, largest, root: Path) -> None:
    (root / "out").mkdir()
    sid = _session(client, source_id, output="out/saved.gpkg")["id"]
    nothing = client.post(f"/api/sessions/{sid}/save")
    assert nothing.status_code == 400 and "foreground" in nothing.json()["detail"]
    assert client.get(f"/api/sessions/{sid}/download").status_code == 400

    building, water = largest("building"), largest("water")
    client.post(f"/api/sessions/{sid}/points", json=_point(scene, building))
    saved = client.post(f"/api/sessions/{sid}/save").json()
    assert saved["session"]["points"] == [] and saved["session"]["saved_groups"] == [saved["group_id"]]
    client.post(f"/api/sessions/{sid}/points", json=_point(scene, water))
    second = client.post(f"/api/sessions/{sid}/save").json()["group_id"]

    layer = gpd.read_file(root / "out" / "saved.gpkg")
    assert list(dict.fromkeys(layer["group_id"])) == [saved["group_id"], second]
    assert layer.crs.to_epsg() == 32633 and set(layer["model"]) == {"demo"}
    listed = client.get(f"/api/sessions/{sid}/saved").json()["features"]
    assert len(listed) == len(layer) and listed[0]["properties"]["group_id"] == saved["group_id"]
    download = client.get(f"/api/sessions/{sid}/download")
    assert download.status_code == 200 and download.content == (root / "out" / "saved.gpkg").read_bytes()

    undone = client.post(f"/api/sessions/{sid}/undo-save").json()
    assert undone["group_id"] == second
    layer = gpd.read_file(root / "out" / "saved.gpkg")
    assert set(layer["group_id"]) == {saved["group_id"]}
    assert _iou(layer.geometry.union_all(), building.geometry) >= 0.7
    client.post(f"/api/sessions/{sid}/undo-save")
    assert client.post(f"/api/sessions/{sid}/undo-save").status_code == 400
    assert len(gpd.read_file(root / "out" / "saved.gpkg")) == 0


def test_a_shapefile_downloads_as_a_zip_and_options_retrace(
        client: TestClient, source_id: str, scene, largest, tmp_path: Path) -> None:
    sid = _session(client, source_id, output="shapes.shp", max_polygon_only=True)["id"]
    state = client.post(f"/api/sessions/{sid}/points", json=_point(scene, largest("water"))).json()
    pixel = shape(state["result"]["features"][0]["geometry"])
    simplified = client.put(f"/api/sessions/{sid}/options", json={"vectorize": "simplified"}).json()
    smooth = shape(simplified["result"]["features"][0]["geometry"])
    assert len(smooth.exterior.coords) < len(pixel.exterior.coords)
    assert _iou(smooth, pixel) > 0.95
    client.post(f"/api/sessions/{sid}/save")
    download = client.get(f"/api/sessions/{sid}/download")
    assert download.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert {Path(n).suffix for n in archive.namelist()} >= {".shp", ".shx", ".dbf", ".prj"}
        archive.extractall(tmp_path)
    assert len(gpd.read_file(tmp_path / "shapes.shp")) == 1


def test_an_existing_layer_keeps_its_crs_and_a_foreign_one_is_refused(
        client: TestClient, source_id: str, scene, largest, root: Path) -> None:
    first = _session(client, source_id, output="wgs.geojson", crs="EPSG:4326")
    assert first["output_crs"] == "EPSG:4326" and first["output_layer"] is None
    # a point in the source's CRS read as EPSG:4326 is far outside: refused, nothing changes
    refused = client.post(f"/api/sessions/{first['id']}/points", json=_point(scene, largest("building")))
    assert refused.status_code == 400
    assert client.get(f"/api/sessions/{first['id']}").json()["points"] == []
    second = _session(client, source_id)
    before = (root / "scene_truth.gpkg").read_bytes()
    named = client.put(f"/api/sessions/{second['id']}/output", json={"path": "new.gpkg:roads"}).json()
    assert Path(named["output"]).name == "new.gpkg" and named["output_layer"] == "roads"
    state = client.put(f"/api/sessions/{second['id']}/output", json={"path": "scene_truth.gpkg:truth"})
    assert state.status_code == 400 and "lacks samscape's fields" in state.json()["detail"]
    assert client.put(f"/api/sessions/{second['id']}/output", json={"path": "../x.gpkg"}).status_code == 403
    assert client.put(f"/api/sessions/{second['id']}/output", json={"path": "x.txt"}).status_code == 400
    assert (root / "scene_truth.gpkg").read_bytes() == before


def test_a_layer_never_written_is_not_kept_in_the_crs_of_a_session_that_ended(
        client: TestClient, source_id: str) -> None:
    _session(client, source_id)  # keeps the source open while the others end
    first = _session(client, source_id, output="unwritten.gpkg", crs="EPSG:4326")
    assert first["output_crs"] == "EPSG:4326"
    second = _session(client, source_id)  # in the source's EPSG:32633
    shared = client.put(f"/api/sessions/{second['id']}/output", json={"path": "unwritten.gpkg"}).json()
    assert shared["output_crs"] == "EPSG:4326"  # one layer object while the first session holds it
    for sid in (first["id"], second["id"]):
        assert client.delete(f"/api/sessions/{sid}").status_code == 204
    third = _session(client, source_id, output="unwritten.gpkg")
    assert third["output_crs"] == "EPSG:32633"


def test_two_tabs_saving_to_one_layer_lose_nothing(client: TestClient, source_id: str, scene) -> None:
    objects = [o for o in scene.objects if o.cls == "building"][:12]
    other = client.post("/api/sources", json={"path": "features"}).json()["id"]  # its own lock
    tabs = [_session(client, sid, output="shared.fgb")["id"] for sid in (source_id, other)]

    def tab(i: int) -> list[str]:
        """One tab saves every other object, one after the other."""
        saved = []
        for obj in objects[i::2]:
            assert client.post(f"/api/sessions/{tabs[i]}/points", json=_point(scene, obj)).status_code == 200
            saved.append(client.post(f"/api/sessions/{tabs[i]}/save").json()["group_id"])
        return saved

    with ThreadPoolExecutor(2) as pool:
        groups = {group for saved in pool.map(tab, range(2)) for group in saved}
    assert len(groups) == len(objects)
    listed = client.get(f"/api/sessions/{tabs[0]}/saved").json()["features"]
    assert {f["properties"]["group_id"] for f in listed} == groups


def test_bad_session_requests_get_4xx(client: TestClient, source_id: str) -> None:
    sid = _session(client, source_id)["id"]
    assert client.post("/api/sessions", json={"source": "99"}).status_code == 404
    assert client.get("/api/sessions/99").status_code == 404
    outside = client.post(f"/api/sessions/{sid}/points", json={"x": 0, "y": 0})
    assert outside.status_code == 400 and "outside" in outside.json()["detail"]
    assert client.post(f"/api/sessions/{sid}/points", json={"x": "nan", "y": 1}).status_code == 422
    assert client.post(f"/api/sessions/{sid}/box", json={"box": [1, 2, 3]}).status_code == 422
    assert client.post(f"/api/sessions/{sid}/undo-save").status_code == 400
    assert client.put(f"/api/sessions/{sid}/options", json={"vectorize": "fancy"}).status_code == 422
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert client.post(f"/api/sessions/{sid}/undo").status_code == 404


def test_group_answers_one_save_in_the_clients_crs_and_writes_nothing(
        client: TestClient, source_id: str, scene, largest, root: Path) -> None:
    import numpy as np
    import shapely
    from pyproj import Transformer

    from samscape.vector.layers import FIELDS

    before = sorted(p.name for p in root.rglob("*"))
    sid = _session(client, source_id)["id"]
    building = largest("building")
    client.post(f"/api/sessions/{sid}/points", json=_point(scene, building))
    taken = client.post(f"/api/sessions/{sid}/group", json={"crs": "EPSG:4326"})
    assert taken.status_code == 200, taken.text
    data = taken.json()
    features = data["features"]["features"]
    assert data["features"]["crs"] == "EPSG:4326" and data["polygons"] == len(features) >= 1
    assert all(set(f["properties"]) == set(FIELDS) for f in features)
    first = features[0]["properties"]
    assert first["group_id"] == data["group_id"] and first["group_size"] == len(features)
    assert (first["fg_points"], first["bg_points"], first["box_used"], first["model"]) == (1, 0, 0, "demo")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform
    polygons = [shape(f["geometry"]) for f in features]
    assert all(-180 <= p.bounds[0] <= 180 and -90 <= p.bounds[1] <= 90 for p in polygons)
    utm = shapely.union_all([shapely.transform(p, lambda xy: np.column_stack(to_utm(xy[:, 0], xy[:, 1])))
                             for p in polygons])
    assert _iou(utm, building.geometry) >= 0.7
    assert abs(sum(f["properties"]["area_m2"] for f in features) - utm.area) < 0.02 * utm.area
    state = data["session"]
    assert state["points"] == [] and state["result"] is None and state["saved_groups"] == []
    assert state["output"] is None and sorted(p.name for p in root.rglob("*")) == before

    nothing = client.post(f"/api/sessions/{sid}/group", json={})
    assert nothing.status_code == 400 and "foreground" in nothing.json()["detail"]
    assert client.post(f"/api/sessions/{sid}/undo-save").status_code == 400
    client.post(f"/api/sessions/{sid}/points", json=_point(scene, building))
    bad = client.post(f"/api/sessions/{sid}/group", json={"crs": "EPSG:0"})
    assert bad.status_code == 400 and "\n" not in bad.json()["detail"]
    assert client.get(f"/api/sessions/{sid}").json()["points"]  # a refused take keeps the prompts
    default = client.post(f"/api/sessions/{sid}/group", json={}).json()
    assert default["features"]["crs"] == "EPSG:32633"


def test_a_source_closes_with_its_last_session(client: TestClient, source_id: str) -> None:
    first, second = _session(client, source_id)["id"], _session(client, source_id)["id"]
    assert client.delete(f"/api/sessions/{first}").status_code == 204
    assert client.get(f"/api/sources/{source_id}").status_code == 200
    assert client.delete(f"/api/sessions/{second}").status_code == 204
    assert client.get(f"/api/sources/{source_id}").status_code == 404
    assert source_id not in [s["id"] for s in client.get("/api/sources").json()["sources"]]
    assert client.delete(f"/api/sessions/{second}").status_code == 404


def test_a_removed_output_folder_or_file_is_a_4xx_and_undo_save_says_so(
        client: TestClient, source_id: str, scene, largest, root: Path) -> None:
    import shutil

    (root / "sub").mkdir()
    sid = _session(client, source_id, output="sub/o.gpkg")["id"]
    building = largest("building")
    client.post(f"/api/sessions/{sid}/points", json=_point(scene, building))
    assert client.post(f"/api/sessions/{sid}/save").status_code == 200
    (root / "sub" / "o.gpkg").unlink()
    undone = client.post(f"/api/sessions/{sid}/undo-save")
    assert undone.status_code == 400 and "no longer in" in undone.json()["detail"]
    assert "nothing was removed" in undone.json()["detail"]

    client.post(f"/api/sessions/{sid}/points", json=_point(scene, building))
    shutil.rmtree(root / "sub")
    for answer in (client.post(f"/api/sessions/{sid}/save"), client.get(f"/api/sessions/{sid}/saved"),
                   client.get(f"/api/sessions/{sid}/download")):
        assert answer.status_code == 400, answer.text
        assert "no longer exists" in answer.json()["detail"]
    assert client.get(f"/api/sessions/{sid}").json()["points"]  # the prompts wait for another layer
    again = client.put(f"/api/sessions/{sid}/output", json={"path": "sub/o.gpkg"})
    assert again.status_code == 400 and "does not exist" in again.json()["detail"]
