"""OutputLayer: real GeoPackage, Shapefile, GeoJSON, FlatGeobuf and GeoParquet files, read back
with pyogrio (GeoParquet with geopandas and pyarrow, as pyogrio's GDAL has no Parquet driver)."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from shapely.geometry import Point, Polygon, box

from samscape.errors import OutputLayerError
from samscape.vector import DRIVERS, FIELDS, OutputLayer, SavedPolygon, driver_for

UTM = CRS.from_epsg(32633)
WGS84 = CRS.from_epsg(4326)
FORMATS = [".gpkg", ".shp", ".geojson", ".fgb", ".parquet"]
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg"}


def polygon_with_hole(x: float, y: float) -> Polygon:
    outer = [(x, y), (x + 10, y), (x + 10, y + 6.5), (x + 4, y + 6.5), (x + 4, y + 9), (x, y + 9)]
    hole = [(x + 1, y + 1), (x + 1, y + 2.5), (x + 3.5, y + 2.5), (x + 3.5, y + 1)]
    return Polygon(outer, [hole])


def make_rows(group_id: str, n: int, x0: float = 500000.0, fg: int = 1, bg: int = 0,
              box_used: int = 0, score: float = 0.873412) -> list[SavedPolygon]:
    rows = []
    for i in range(n):
        geometry = polygon_with_hole(x0 + 20 * i, 3999000.0 + 3 * i) if i % 2 == 0 else \
            box(x0 + 20 * i, 3999000.0, x0 + 20 * i + 7.5, 3999012.5)
        rows.append(SavedPolygon(
            geometry=geometry, group_id=group_id, group_size=n, area_m2=geometry.area,
            fg_points=fg, bg_points=bg, box_used=box_used, score=score,
            model="tiny-random-sam", source="ortho é.tif", created="2024-05-06T07:08:09+00:00",
        ))
    return rows


def read_back(path: Path) -> gpd.GeoDataFrame:
    """The layer as an independent reader sees it (GeoJSON strings kept as written: GDAL would
    otherwise turn ISO 8601 strings into datetimes)."""
    if path.suffix in (".parquet", ".geoparquet"):
        return gpd.read_parquet(path)
    if path.suffix in (".geojson", ".json"):
        return pyogrio.read_dataframe(path, DATE_AS_STRING="YES")
    return pyogrio.read_dataframe(path)


def normalized_wkb(geometry) -> bytes:
    return shapely.to_wkb(shapely.normalize(geometry))


def in_order(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Rows in a stable order: FlatGeobuf's spatial index stores features in Hilbert-curve order,
    not in the order they were written, so those are sorted by group and geometry."""
    if path.suffix != ".fgb":
        return frame
    keys = [(g, normalized_wkb(geom)) for g, geom in zip(frame["group_id"], frame.geometry, strict=True)]
    return frame.iloc[sorted(range(len(frame)), key=keys.__getitem__)]


def sorted_rows(rows: list[SavedPolygon], path: Path) -> list[SavedPolygon]:
    if path.suffix != ".fgb":
        return rows
    return sorted(rows, key=lambda r: (r.group_id, normalized_wkb(r.geometry)))


def assert_same_rows(frame: gpd.GeoDataFrame, rows: list[SavedPolygon], path: Path) -> None:
    """`frame` read from `path` holds exactly `rows` (floats to the 15 decimals of a .dbf)."""
    frame, rows = in_order(frame, path), sorted_rows(rows, path)
    assert len(frame) == len(rows)
    assert set(FIELDS) <= set(frame.columns)
    for i, row in enumerate(rows):
        got = frame.iloc[i]
        assert got.geometry.geom_type == "Polygon"
        assert normalized_wkb(got.geometry) == normalized_wkb(row.geometry)
        for name, value in row.properties().items():
            if path.suffix == ".shp" and FIELDS[name] == "float64":
                assert got[name] == pytest.approx(value, rel=1e-12, abs=5e-16), name
                continue
            assert got[name] == value, (name, got[name], value)
            if FIELDS[name] == "object":
                assert isinstance(got[name], str)
            else:
                assert isinstance(got[name], (int, float, np.integer, np.floating))


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def layer_files(path: Path) -> set[str]:
    if path.suffix == ".shp":
        return {path.stem + s for s in SHAPEFILE_PARTS if path.with_suffix(s).exists()}
    return {path.name}


def test_fields_fit_shapefiles_and_match_saved_polygon():
    assert list(FIELDS) == ["group_id", "group_size", "area_m2", "fg_points", "bg_points", "box_used",
                            "score", "model", "source", "created"]
    assert all(len(name) <= 10 for name in FIELDS)
    row = make_rows("G", 1)[0]
    assert list(row.properties()) == list(FIELDS)
    assert row.properties()["score"] == 0.873412


def test_driver_for_every_extension():
    assert driver_for("a.gpkg") == "GPKG" and driver_for("a.GPKG") == "GPKG"
    assert driver_for("dir.v1/a.shp") == "ESRI Shapefile"
    assert driver_for("a.geojson") == driver_for("a.json") == "GeoJSON"
    assert driver_for("a.fgb") == "FlatGeobuf"
    assert driver_for("a.parquet") == driver_for("a.geoparquet") == "GeoParquet"
    assert set(DRIVERS) == {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".parquet", ".geoparquet"}


@pytest.mark.parametrize("name", ["out.txt", "out.tif", "out", "out.gpkg.bak"])
def test_unknown_extension_is_refused(tmp_path, name):
    with pytest.raises(OutputLayerError, match="unknown output extension"):
        driver_for(tmp_path / name)
    with pytest.raises(OutputLayerError, match=r"use one of \.gpkg"):
        OutputLayer(tmp_path / name, UTM)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder_is_refused(tmp_path):
    with pytest.raises(OutputLayerError, match="does not exist"):
        OutputLayer(tmp_path / "nope" / "out.gpkg", UTM)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputLayerError, match="output layers are local files, not URLs"):
        OutputLayer("s3://bucket/out.gpkg", UTM)


@pytest.mark.parametrize("crs", ["EPSG:32633", 32633, "32633"])
def test_the_crs_may_be_any_spelling(tmp_path, crs):
    layer = OutputLayer(tmp_path / "out.gpkg", crs)
    assert layer.crs == UTM
    layer.append(make_rows("01HX0000000000000000000001", 1))
    assert CRS.from_user_input(pyogrio.read_info(tmp_path / "out.gpkg")["crs"]) == UTM


@pytest.mark.parametrize("ext", FORMATS)
def test_append_and_read_back(tmp_path, ext):
    path = tmp_path / f"saved{ext}"
    layer = OutputLayer(path, UTM)
    assert layer.read() == [] and not path.exists()
    first = make_rows("01HX0000000000000000000001", 3, box_used=1, fg=2, bg=1)
    layer.append(first)
    second = make_rows("01HX0000000000000000000002", 2, x0=500100.0, score=0.25)
    layer.append(second)
    if ext == ".gpkg":  # GeoPackage 1.2: QGIS on GDAL 3.6 opens it without a warning
        with closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA user_version").fetchone() == (10200,)

    frame = read_back(path)
    assert_same_rows(frame, first + second, path)
    assert ProjCRS.from_user_input(frame.crs) == ProjCRS.from_epsg(32633)
    if ext != ".parquet":
        info = pyogrio.read_info(path)
        assert list(info["fields"]) == list(FIELDS)
        assert info["geometry_type"] == "Polygon"
        assert CRS.from_user_input(info["crs"]) == UTM
    else:
        schema = pq.read_schema(path)
        assert schema.names == [*FIELDS, "geometry"]
        geo = json.loads(schema.metadata[b"geo"])
        assert geo["primary_column"] == "geometry"
        column = geo["columns"]["geometry"]
        assert column["encoding"] == "WKB" and column["geometry_types"] == ["Polygon"]
        assert ProjCRS.from_json_dict(column["crs"]) == ProjCRS.from_epsg(32633)
        np.testing.assert_allclose(column["bbox"], frame.total_bounds)

    # samscape's own reader sees the same rows; a new OutputLayer on the file accepts it.
    again = OutputLayer(path, UTM)
    read = sorted_rows(again.read(), path)
    expected = sorted_rows(first + second, path)
    assert [r.properties() for r in read] == [r.properties() for r in expected]
    assert [normalized_wkb(r.geometry) for r in read] == [normalized_wkb(r.geometry) for r in expected]
    third = make_rows("01HX0000000000000000000003", 1, x0=500300.0)
    again.append(third)
    assert_same_rows(read_back(path), first + second + third, path)
    assert set(os.listdir(tmp_path)) == layer_files(path)  # no temporary files left


@pytest.mark.parametrize("ext", FORMATS)
def test_layer_in_geographic_crs(tmp_path, ext):
    path = tmp_path / f"geo{ext}"
    geometry = Polygon([(15.0, 36.1), (15.0001, 36.1), (15.0001, 36.1002), (15.0, 36.1)])
    row = SavedPolygon(geometry, "G", 1, geometry.area, 1, 0, 0, 0.5, "m", "s", "c")
    OutputLayer(path, WGS84).append([row])
    frame = read_back(path)
    assert frame.crs.to_epsg() == 4326
    assert_same_rows(frame, [row], path)
    OutputLayer(path, WGS84)  # reopening in its own CRS is accepted
    with pytest.raises(OutputLayerError, match="is in CRS EPSG:4326, not EPSG:32633"):
        OutputLayer(path, UTM)


@pytest.mark.parametrize("ext", FORMATS)
def test_remove_group_keeps_other_groups_exactly(tmp_path, ext):
    path = tmp_path / f"undo{ext}"
    layer = OutputLayer(path, UTM)
    a = make_rows("GROUP-A", 2)
    b = make_rows("GROUP-B", 3, x0=500200.0, score=0.5)
    c = make_rows("GROUP-C", 2, x0=500400.0, box_used=1)
    layer.append(a)
    layer.append(b)
    layer.append(c)
    before = in_order(read_back(path), path)
    kept_before = before[before["group_id"] != "GROUP-B"]

    assert layer.remove_group("GROUP-B") == 3
    after = in_order(read_back(path), path)
    assert list(after["group_id"]) == ["GROUP-A"] * 2 + ["GROUP-C"] * 2
    assert len(after) == len(kept_before) == 4
    for (_, old), (_, new) in zip(kept_before.iterrows(), after.iterrows(), strict=True):
        assert shapely.to_wkb(old.geometry) == shapely.to_wkb(new.geometry)
        for name in FIELDS:
            assert old[name] == new[name] and type(old[name]) is type(new[name])
    assert_same_rows(after, a + c, path)

    # Removing a group that is not there changes nothing, not even the file.
    files = snapshot(tmp_path)
    assert layer.remove_group("GROUP-B") == 0
    assert snapshot(tmp_path) == files
    assert set(os.listdir(tmp_path)) == layer_files(path)


@pytest.mark.parametrize("ext", FORMATS)
def test_removing_the_last_group_leaves_an_empty_valid_layer(tmp_path, ext):
    path = tmp_path / f"empty{ext}"
    layer = OutputLayer(path, UTM)
    layer.append(make_rows("ONLY", 2))
    assert layer.remove_group("ONLY") == 2
    assert path.exists()
    frame = read_back(path)
    assert len(frame) == 0
    assert ProjCRS.from_user_input(frame.crs) == ProjCRS.from_epsg(32633)
    assert set(os.listdir(tmp_path)) == layer_files(path)
    # Still a samscape layer: it can be opened again (e.g. by the next session) and appended to.
    reopened = OutputLayer(path, UTM)
    assert reopened.read() == []
    rows = make_rows("NEXT", 1)
    reopened.append(rows)
    assert_same_rows(read_back(path), rows, path)


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".parquet"])
def test_layer_with_another_schema_is_refused_and_untouched(tmp_path, ext):
    path = tmp_path / f"theirs{ext}"
    frame = gpd.GeoDataFrame({"name": ["field 7"], "value": [3.5]},
                             geometry=[box(500000, 3999000, 500010, 3999010)], crs="EPSG:32633")
    if ext == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    files = snapshot(tmp_path)
    with pytest.raises(OutputLayerError,
                       match=r"lacks samscape's fields area_m2, .* and has fields of its own \(name"):
        OutputLayer(path, UTM)
    assert snapshot(tmp_path) == files


def _without_score(values: dict) -> dict:
    return {k: v for k, v in values.items() if k != "score"}


@pytest.mark.parametrize(("fields", "geometry", "match"), [
    (_without_score, box(0, 0, 1, 1), r"lacks samscape's fields score; it is left"),
    (lambda values: {**values, "notes": ["mine"]}, box(0, 0, 1, 1),
     r"' has fields of its own \(notes\); .* GeoPackage, which keeps"),
    (lambda values: values, Point(500000, 3999000), "Point geometries, not polygons"),
], ids=["missing-field", "extra-field", "points"])
def test_layer_of_another_kind_is_refused(tmp_path, fields, geometry, match):
    path = tmp_path / ("other.fgb" if "notes" in match else "other.gpkg")  # a GeoPackage keeps it
    values = fields({name: [v] for name, v in make_rows("G", 1)[0].properties().items()})
    gpd.GeoDataFrame(values, geometry=[geometry], crs="EPSG:32633").to_file(path)
    files = snapshot(tmp_path)
    with pytest.raises(OutputLayerError, match=match):
        OutputLayer(path, UTM)
    assert snapshot(tmp_path) == files


@pytest.mark.parametrize("ext", FORMATS)
def test_layer_in_another_crs_is_refused_and_untouched(tmp_path, ext):
    path = tmp_path / f"utm{ext}"
    OutputLayer(path, UTM).append(make_rows("G", 2))
    files = snapshot(tmp_path)
    with pytest.raises(OutputLayerError,
                       match=r"is in CRS EPSG:32633, not EPSG:4326; .*--out-crs EPSG:32633"):
        OutputLayer(path, WGS84)
    with pytest.raises(OutputLayerError, match="EPSG:32634"):
        OutputLayer(path, CRS.from_epsg(32634))
    assert snapshot(tmp_path) == files


def test_unreadable_existing_file_is_refused_and_untouched(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a GeoPackage\n" * 10)
    files = snapshot(tmp_path)
    with pytest.raises(OutputLayerError, match="cannot be read as an output layer"):
        OutputLayer(path, UTM)
    assert snapshot(tmp_path) == files


@pytest.mark.parametrize("ext", [".gpkg", ".shp"])
def test_file_names_with_glob_characters(tmp_path, ext):
    """'[' and ']' are ordinary characters in a file name (e.g. 'parcels[2024].gpkg')."""
    path = tmp_path / f"parcels[2024]{ext}"
    layer = OutputLayer(path, UTM)
    rows = make_rows("G", 2)
    layer.append(rows)
    assert path.exists()
    assert_same_rows(read_back(path), rows, path)
    assert set(os.listdir(tmp_path)) == layer_files(path)


def test_many_writes_leave_no_temporary_files(tmp_path):
    for ext in FORMATS:
        layer = OutputLayer(tmp_path / f"busy{ext}", UTM)
        for i in range(3):
            layer.append(make_rows(f"G{i}", 2))
        layer.remove_group("G1")
        assert len(layer.read()) == 4
    names = sorted(os.listdir(tmp_path))
    assert not [n for n in names if n.startswith(".")], names
    expected = {"busy.gpkg", "busy.geojson", "busy.fgb", "busy.parquet"} | \
        {f"busy{s}" for s in SHAPEFILE_PARTS if (tmp_path / f"busy{s}").exists()}
    assert set(names) == expected and "busy.shp" in names and "busy.dbf" in names


def test_a_gpkg_layer_named_in_another_case_is_the_same_layer(tmp_path):
    OutputLayer(tmp_path / "names.gpkg:Roads", UTM).append(make_rows("01HX0000000000000000000001", 1))
    again = OutputLayer(tmp_path / "names.gpkg:roads", UTM)
    assert again.layer_name == "Roads" and OutputLayer.crs_of(tmp_path / "names.gpkg:ROADS") == UTM
    again.append(make_rows("01HX0000000000000000000002", 1))
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "names.gpkg")] == ["Roads"]
    assert len(gpd.read_file(tmp_path / "names.gpkg", layer="Roads")) == 2


def test_gpkg_reserved_names_are_refused_or_avoided(tmp_path):
    with pytest.raises(OutputLayerError, match="reserved in a GeoPackage.*'.*:objects'"):
        OutputLayer(tmp_path / "x.gpkg:gpkgish", UTM)
    layer = OutputLayer(tmp_path / "gpkg_results.gpkg", UTM)  # GDAL refuses a layer named gpkg…
    layer.append(make_rows("01HX0000000000000000000001", 1))
    assert [name for name, _ in pyogrio.list_layers(tmp_path / "gpkg_results.gpkg")] == ["polygons"]


def test_polygons_join_the_tiles_of_a_raster_geopackage(tmp_path):
    path = tmp_path / "ortho.gpkg"
    with rasterio.open(path, "w", driver="GPKG", width=256, height=256, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        ds.write(np.full((3, 256, 256), 90, np.uint8))
    assert OutputLayer.crs_of(f"{path}:objects") is None
    OutputLayer(f"{path}:objects", UTM).append(make_rows("01HX0000000000000000000001", 2))
    assert len(gpd.read_file(path, layer="objects")) == 2
    with rasterio.open(path) as ds:
        assert (ds.read([1, 2, 3]) == 90).all()


def test_a_field_of_the_users_own_is_kept_in_a_gpkg_and_refused_elsewhere(tmp_path):
    path = tmp_path / "classes.gpkg"
    OutputLayer(path, UTM).append(make_rows("01HX0000000000000000000001", 2))
    frame = gpd.read_file(path)
    frame["class"] = ["roof", "shed"]  # as a QGIS user adds a column and fills it
    frame.to_file(path, layer="classes")
    OutputLayer(path, UTM).append(make_rows("01HX0000000000000000000002", 1))
    after = gpd.read_file(path)
    assert after["class"].tolist()[:2] == ["roof", "shed"] and after["class"].isna().tolist()[2]
    assert OutputLayer(path, UTM).remove_group("01HX0000000000000000000001") == 2
    assert gpd.read_file(path)["group_id"].tolist() == ["01HX0000000000000000000002"]

    geojson = tmp_path / "classes.geojson"
    OutputLayer(geojson, UTM).append(make_rows("01HX0000000000000000000001", 1))
    frame = gpd.read_file(geojson)
    frame["class"] = ["roof"]
    frame.to_file(geojson)
    before = geojson.read_bytes()
    with pytest.raises(OutputLayerError,
                       match=r"own \(class\); .* or a GeoPackage, which keeps fields of your own"):
        OutputLayer(geojson, UTM).append(make_rows("01HX0000000000000000000002", 1))
    assert geojson.read_bytes() == before
