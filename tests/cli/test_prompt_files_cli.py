"""Prompt files through real `samscape segment` processes on a demo scene: a GeoJSON of UTM points
with --crs, and a CSV of lon/lat points, each segment the buildings they are on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from rasterio.warp import transform as warp_points
from shapely.geometry import shape

import samscape
from samscape.demo import generate_scene
from samscape.demo.evaluate import point_prompt

RUNS = {
    # RFC 7946 GeoJSON has no `crs` member; --crs says its coordinates are UTM
    "geojson-utm": ["--prompts", "{tmp}/utm.geojson", "--crs", "EPSG:32633"],
    "csv-lonlat": ["--prompts", "{tmp}/points.csv"],
    "csv-xy": ["--prompts", "{tmp}/xy.csv"],  # x/y in the source's CRS
}


@pytest.fixture(scope="module")
def scene_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list, dict]:
    tmp = tmp_path_factory.mktemp("prompt-files")
    scene = generate_scene(3, 320, 320)
    raster, _ = scene.write(tmp)
    env = {**os.environ, "SAMSCAPE_HOME": str(tmp / "home")}
    samscape.encode(str(raster), tmp / "features", model="demo", progress=False)
    buildings = sorted((o for o in scene.objects if o.cls == "building"),
                       key=lambda o: o.geometry.area)[-2:]
    points = [point_prompt(scene, b.object_id).points[0] for b in buildings]
    features = [{"type": "Feature", "properties": {"group": i},
                 "geometry": {"type": "Point", "coordinates": [p.x, p.y]}} for i, p in enumerate(points)]
    (tmp / "utm.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    lons, lats = warp_points("EPSG:32633", "EPSG:4326", [p.x for p in points], [p.y for p in points])
    (tmp / "points.csv").write_text("Lon,Lat,label\n" + "".join(
        f"{lon!r},{lat!r},1\n" for lon, lat in zip(lons, lats, strict=True)))
    (tmp / "xy.csv").write_text("x;y\n" + "".join(f"{p.x};{p.y}\n" for p in points))
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "samscape.cli.main", "segment", str(tmp / "features"), "--out",
             str(tmp / f"{name}.gpkg"), "--max-polygon-only", "--json", "-q",
             *(a.format(tmp=tmp) for a in args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for name, args in RUNS.items()
    }
    results = {name: (p.wait(timeout=300), p.stdout.read(), p.stderr.read())
               for name, p in processes.items()}
    return buildings, results


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RUNS))
def test_prompt_file_points_segment_their_buildings(scene_runs, name: str) -> None:
    buildings, results = scene_runs
    code, out, err = results[name]
    assert code == 0, err
    collection = json.loads(out)
    assert collection["crs"]["properties"]["name"] == "EPSG:32633"
    polygons = [shape(f["geometry"]) for f in collection["features"]]
    assert len(polygons) == len(buildings)
    for building in buildings:
        best = max(p.intersection(building.geometry).area / p.union(building.geometry).area
                   for p in polygons)
        assert best >= 0.5, (name, best)
