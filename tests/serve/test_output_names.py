"""Output names over HTTP, through a real server on loopback: a ';' (which GDAL cuts names at) is
refused with a one-line 400 and writes nothing; a named layer of a project GeoPackage is saved
beside its other layers, which stay as they were."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from shapely.geometry import box

from samscape.demo.evaluate import point_prompt


def test_semicolon_output_name_is_refused_and_nothing_is_written(served, small_root: Path) -> None:
    folder = small_root / "names"
    folder.mkdir()
    (folder / ".bashrc").write_text("export KEEP=1\n")
    source = served.http.post("/api/sources", json={"path": "features"}).json()["id"]
    for ext in (".geojson", ".gpkg"):
        answer = served.http.post("/api/sessions", json={"source": source, "output": f"names/bashrc;x{ext}"})
        assert answer.status_code == 400, answer.text
        detail = answer.json()["detail"]
        assert "contains ';'" in detail and "\n" not in detail
    assert os.listdir(folder) == [".bashrc"] and (folder / ".bashrc").read_text() == "export KEEP=1\n"


def test_a_named_layer_is_saved_beside_the_other_layers(served, small_root: Path, small_scene) -> None:
    path = small_root / "project.gpkg"
    pyogrio.raw.write(path, shapely.to_wkb([box(0, 0, 1, 1)]), [np.array(["a"], object)], ["name"],
                      layer="parcels", driver="GPKG", geometry_type="Polygon", crs="EPSG:32633")
    with sqlite3.connect(path) as db:
        parcels = db.execute("SELECT * FROM parcels").fetchall()
    source = served.http.post("/api/sources", json={"path": "features"}).json()["id"]
    session = served.http.post("/api/sessions", json={"source": source, "output": "project.gpkg:objects"})
    assert session.status_code == 201, session.text
    sid = session.json()["id"]
    building = max((o for o in small_scene.objects if o.cls == "building"), key=lambda o: o.geometry.area)
    (point,) = point_prompt(small_scene, building.object_id).points
    added = served.http.post(f"/api/sessions/{sid}/points", json={"x": point.x, "y": point.y})
    assert added.status_code == 200, added.text
    saved = served.http.post(f"/api/sessions/{sid}/save")
    assert saved.status_code == 200, saved.text
    assert set(pyogrio.list_layers(path)[:, 0]) == {"parcels", "objects"}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT * FROM parcels").fetchall() == parcels
    saved = pyogrio.read_dataframe(path, layer="objects")
    assert saved["group_id"].nunique() == 1 and (saved["area_m2"] > 0).all()
    assert served.http.post(f"/api/sessions/{sid}/undo-save").status_code == 200
    assert len(pyogrio.read_dataframe(path, layer="objects")) == 0
    assert set(pyogrio.list_layers(path)[:, 0]) == {"parcels", "objects"}
