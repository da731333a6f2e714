"""Saves to a large layer: the 10 000th save keeps every earlier row exactly (and a GeoPackage's
other layers), a GeoPackage is appended to in place, GeoParquet stays one file whose extent follows
saves and undos, and a GeoPackage append killed mid-write leaves the old or the new layer. Real
files, real processes, real kills."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from rasterio.crs import CRS
from shapely.geometry import Polygon
from test_layer_safety import assert_others_untouched, project_gpkg, table_rows

from samscape.vector import OutputLayer, SavedPolygon

UTM = CRS.from_epsg(32633)
EARLIER = 9_999


def objects(n: int, prefix: str, x0: float = 500000.0) -> list[SavedPolygon]:
    """`n` saves of one polygon each, on a 100-wide grid of 30 m cells; every field varies."""
    rows = []
    for i in range(n):
        x, y = x0 + 30.0 * (i % 100), 3999000.0 - 30.0 * (i // 100)
        shape = Polygon([(x, y), (x + 10 + i % 7, y), (x + 10, y + 8 + i % 5), (x, y + 8)])
        rows.append(SavedPolygon(shape, group_id=f"{prefix}{i:06d}", group_size=1, area_m2=shape.area,
                                 fg_points=i % 4 + 1, bg_points=i % 3, box_used=i % 2,
                                 score=round(i / n, 6), model="demo", source="été.tif",
                                 created=f"2026-11-30T04:{i % 60:02d}:00+00:00"))
    return rows


def content(rows: list[SavedPolygon]) -> list[tuple[bytes, dict]]:
    return [(shapely.to_wkb(r.geometry), r.properties()) for r in rows]


def geo_bbox(path: Path) -> list[float] | None:
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    return geo["columns"]["geometry"].get("bbox")


def gpkg_consistent(path: Path, layer: str) -> int:
    """The number of rows in `layer`, after checking that SQLite, the spatial index and the feature
    count GDAL and QGIS show all agree on it."""
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (rows,) = db.execute(f'SELECT count(*) FROM "{layer}"').fetchone()
        assert db.execute(f'SELECT count(*) FROM "rtree_{layer}_geom"').fetchone() == (rows,)
        assert db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                          (layer,)).fetchone() == (rows,)
    assert pyogrio.read_info(path, layer=layer)["features"] == rows
    return rows


def undo_plan(path: Path, layer: str) -> str:
    """How SQLite finds the rows an undo deletes: 'index' (samscape's group_id index) or 'scan'."""
    with sqlite3.connect(path) as db:
        plan = db.execute(f'EXPLAIN QUERY PLAN DELETE FROM "{layer}" WHERE group_id = ?', ("x",)
                          ).fetchone()[-1]
    index = rf"SEARCH {layer} USING (COVERING )?INDEX samscape_{layer}_group_id \(group_id=\?\)"
    if re.fullmatch(index, plan):
        return "index"
    assert plan == f"SCAN {layer}", plan
    return "scan"


@pytest.mark.parametrize("first", ["new file", "new layer"])
def test_a_gpkg_layer_indexes_its_saves_from_the_first(tmp_path, first):
    """Undo-save finds its rows through an index samscape makes with the layer (or, for a layer
    an older samscape made, at the first undo), not by reading every row."""
    path = tmp_path / "p.gpkg"
    if first == "new layer":
        project_gpkg(path)
    layer = OutputLayer(f"{path}:objects", UTM)
    layer.append(objects(3, "G"))
    assert undo_plan(path, "objects") == "index"
    with sqlite3.connect(path) as db:
        db.execute("DROP INDEX samscape_objects_group_id")
    assert undo_plan(path, "objects") == "scan"
    assert layer.remove_group("G000001") == 1
    assert undo_plan(path, "objects") == "index"
    assert [r.group_id for r in layer.read()] == ["G000000", "G000002"]
    assert gpkg_consistent(path, "objects") == 2


def test_a_gpkg_save_counts_its_rows_without_gdal_count_triggers(tmp_path):
    """A GDAL killed mid-write can leave its feature-count triggers dropped: a save then sets the
    count GDAL and QGIS show from the rows there."""
    path = tmp_path / "p.gpkg"
    layer = OutputLayer(path, UTM)
    layer.append(objects(3, "G"))
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER trigger_insert_feature_count_p")
        db.execute("UPDATE gpkg_ogr_contents SET feature_count = 1")
    layer.append(objects(2, "N", x0=600000.0))
    assert gpkg_consistent(path, "p") == 5


def test_the_10000th_gpkg_save_is_in_place_and_keeps_everything(tmp_path):
    path = tmp_path / "project.gpkg"
    project_gpkg(path)
    before = table_rows(path)
    layer = OutputLayer(f"{path}:objects", UTM)
    earlier = objects(EARLIER, "G")
    layer.append(earlier)
    inode = path.stat().st_ino

    last = objects(1, "L", x0=600000.0)
    layer.append(last)
    assert path.stat().st_ino == inode  # the file was changed, not replaced
    assert content(OutputLayer(f"{path}:objects", UTM).read()) == content(earlier + last)
    assert gpkg_consistent(path, "objects") == EARLIER + 1
    assert_others_untouched(before, table_rows(path), {"objects"})
    found = pyogrio.read_dataframe(path, layer="objects", bbox=(599999, 3998999, 600011, 3999009))
    assert list(found["group_id"]) == ["L000000"]  # the spatial index has the new row
    with sqlite3.connect(path) as db:  # the extent GDAL and QGIS show
        extent = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE "
                            "table_name = 'objects'").fetchone()
    assert list(extent) == list(shapely.total_bounds([r.geometry for r in earlier + last]))

    assert undo_plan(path, "objects") == "index"
    assert layer.remove_group("L000000") == 1
    assert path.stat().st_ino == inode
    assert content(layer.read()) == content(earlier)
    assert gpkg_consistent(path, "objects") == EARLIER
    with sqlite3.connect(path) as db:  # shrunk to the rows left (the index's float32 boxes)
        extent = db.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE "
                            "table_name = 'objects'").fetchone()
    assert extent == pytest.approx(shapely.total_bounds([r.geometry for r in earlier]), abs=0.5)
    assert_others_untouched(before, table_rows(path), {"objects"})
    assert sorted(os.listdir(tmp_path)) == ["project.gpkg"]


def test_the_10000th_geoparquet_save_keeps_every_row_in_one_file(tmp_path):
    path = tmp_path / "big.parquet"
    layer = OutputLayer(path, UTM)
    earlier = objects(EARLIER, "G")
    layer.append(earlier)
    assert geo_bbox(path) == list(shapely.total_bounds([r.geometry for r in earlier]))

    last = objects(1, "L", x0=600000.0)
    layer.append(last)
    assert content(OutputLayer(path, UTM).read()) == content(earlier + last)
    assert geo_bbox(path) == list(shapely.total_bounds([r.geometry for r in earlier + last]))
    metadata = pq.read_metadata(path)
    assert (metadata.num_rows, metadata.num_row_groups) == (EARLIER + 1, 1)
    assert os.listdir(tmp_path) == ["big.parquet"]

    assert layer.remove_group("L000000") == 1
    assert content(layer.read()) == content(earlier)
    assert geo_bbox(path) == list(shapely.total_bounds([r.geometry for r in earlier]))
    assert layer.remove_group("nothing") == 0
    # a save inside the extent (kept as recorded), then the saves holding its right and bottom edges
    gone = {"G005050"} | {f"G{i:06d}" for i in range(99, EARLIER, 100)} | {
        f"G{i:06d}" for i in range(9900, EARLIER)}
    for group_id in sorted(gone):
        assert layer.remove_group(group_id) == 1
        kept = [r.geometry for r in earlier if r.group_id not in gone or r.group_id > group_id]
        assert geo_bbox(path) == list(shapely.total_bounds(kept)), group_id
    assert content(layer.read()) == content([r for r in earlier if r.group_id not in gone])


@pytest.mark.parametrize("ext", [".shp", ".fgb", ".geojson"])
def test_a_rewritten_layer_keeps_every_field_of_earlier_rows(tmp_path, ext):
    """Formats rewritten on each save carry the stored columns over unchanged (FlatGeobuf in its
    spatial index's order, hence sorted)."""
    path = tmp_path / f"rewritten{ext}"
    layer = OutputLayer(path, UTM)
    layer.append(objects(300, "G"))
    stored = sorted(content(layer.read()), key=lambda r: r[1]["group_id"])
    assert len(stored) == 300
    layer.append(objects(1, "L", x0=600000.0))
    assert layer.remove_group("L000000") == 1
    assert sorted(content(layer.read()), key=lambda r: r[1]["group_id"]) == stored


KILLED = textwrap.dedent("""
    import sys
    from rasterio.crs import CRS
    from shapely.geometry import box
    from samscape.vector import FIELDS, OutputLayer, SavedPolygon
    path, group, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    values = {name: {"object": "x" * 20, "int32": 1, "float64": 2.5}[d] for name, d in FIELDS.items()}
    values.update(group_id=group, group_size=n)
    layer = OutputLayer(path, CRS.from_epsg(32633))
    print("ready", flush=True)
    layer.append([SavedPolygon(box(500000 + i, 3999000, 500001 + i, 3999001), **values) for i in range(n)])
""")


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3])
def test_a_killed_gpkg_append_leaves_the_old_or_the_new_layer(tmp_path, delay):
    """Killed while SQLite's journal is on disk (the transaction under way), or a little later:
    the next open finds each save whole or absent, the counts and the index in step, and the
    other layers as they were; saving goes on."""
    path = tmp_path / "project.gpkg"
    project_gpkg(path)
    layer = OutputLayer(f"{path}:objects", UTM)
    layer.append(objects(500, "G"))
    before = table_rows(path)
    journal = tmp_path / "project.gpkg-journal"

    proc = subprocess.Popen([sys.executable, "-c", KILLED, f"{path}:objects", "K", "20000"],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 120
    while not journal.exists():
        assert proc.poll() is None, "the append ended before its transaction was seen"
        assert time.monotonic() < deadline
        time.sleep(0.0005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    reopened = OutputLayer(f"{path}:objects", UTM)
    groups = [r.group_id for r in reopened.read()]
    killed = groups.count("K")
    assert killed in (0, 20000) and groups[:500] == [f"G{i:06d}" for i in range(500)]
    assert gpkg_consistent(path, "objects") == 500 + killed
    assert_others_untouched(before, table_rows(path), {"objects"})
    if delay == 0.0:
        assert killed == 0  # killed inside the transaction: rolled back
    reopened.append(objects(1, "N", x0=600000.0))
    assert reopened.remove_group("K") == killed
    assert [r.group_id for r in reopened.read()] == groups[:500] + ["N000000"]
    assert gpkg_consistent(path, "objects") == 501
    assert not journal.exists()


def test_a_first_save_killed_before_its_rows_leaves_no_empty_layer(tmp_path):
    """GDAL creates a new layer's table before it inserts the rows: a kill between the two leaves
    the layer marked unfinished and empty, and the next open drops it; the file is as before."""
    from samscape.vector import gpkg
    from samscape.vector.layers import _columns, _write_ogr

    path = tmp_path / "project.gpkg"
    project_gpkg(path)
    before = table_rows(path)
    _write_ogr(path, *_columns(objects(3, "K")), UTM, "GPKG", "objects", append=True,
               description=gpkg.UNFINISHED)
    with sqlite3.connect(path) as db:  # the rows' transaction never committed
        db.execute("DELETE FROM objects")
    layer = OutputLayer(f"{path}:objects", UTM)
    assert "objects" not in pyogrio.list_layers(path)[:, 0]
    assert table_rows(path) == before
    assert layer.read() == []

    layer.append(objects(2, "N"))  # a first save that ends is unmarked
    _write_ogr(path, *_columns(objects(1, "L")), UTM, "GPKG", "late", append=True,
               description=gpkg.UNFINISHED)  # killed after its rows, before the mark was cleared
    late = OutputLayer(f"{path}:late", UTM)
    assert [r.group_id for r in late.read()] == ["L000000"]
    with sqlite3.connect(path) as db:
        described = dict(db.execute("SELECT table_name, description FROM gpkg_contents"))
    assert {"objects", "late"} <= set(described) and gpkg.UNFINISHED not in described.values()
    assert gpkg_consistent(path, "objects") == 2
