"""read_prompts: a vector file of prompts → one PromptSet per object; then batch segmentation."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
from rasterio.crs import CRS
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

from samscape.errors import PromptError
from samscape.segment import PromptSet, Segmenter, read_prompts, save_results
from samscape.vector import OutputLayer, VectorOptions

UTM = CRS.from_epsg(32633)
WGS84 = CRS.from_epsg(4326)


@pytest.fixture
def write(tmp_path):
    """`write(name, geometries, crs="EPSG:32633", **columns)`: a vector file written by geopandas."""

    def write(name: str, geometries, crs="EPSG:32633", **columns):
        path = tmp_path / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "'crs' was not provided"
            gpd.GeoDataFrame(columns, geometry=list(geometries), crs=crs).to_file(path)
        return path

    return write


def test_each_feature_is_an_object_without_group_field(write) -> None:
    geoms = [Point(500010, 3999990), Point(500020, 3999980), box(500100, 3999800, 500150, 3999900)]
    path = write("p.gpkg", geoms)
    objects = read_prompts(path)
    assert len(objects) == 3
    assert all(o.crs == UTM for o in objects)
    assert objects[0] == PromptSet(UTM).add_point(500010, 3999990)
    assert objects[1] == PromptSet(UTM).add_point(500020, 3999980)
    assert objects[2] == PromptSet(UTM).with_box((500100, 3999800, 500150, 3999900))


def test_group_field_joins_features_and_labels_are_kept(write) -> None:
    geoms = [Point(1, 1), Point(2, 2), Point(3, 3), box(0, 0, 4, 5), Point(6, 6), Point(7, 7)]
    path = write("p.gpkg", geoms, label=[1, 0, 1, 1, 1, 0], group=["a", "a", "b", "b", None, "a"])
    a, b, single = read_prompts(path)
    assert [(p.x, p.y, p.label) for p in a.points] == [(1, 1, 1), (2, 2, 0), (7, 7, 0)]
    assert a.box is None and (a.fg_count, a.bg_count) == (1, 2)
    assert [(p.x, p.y, p.label) for p in b.points] == [(3, 3, 1)]
    assert tuple(b.box) == (0, 0, 4, 5)
    assert [(p.x, p.y, p.label) for p in single.points] == [(6, 6, 1)]


def test_numeric_groups_with_gaps(write) -> None:
    path = write("p.gpkg", [Point(1, 1), Point(2, 2), Point(3, 3), Point(4, 4)],
                 group=[7.0, np.nan, 7.0, np.nan])
    objects = read_prompts(path)
    assert [[(p.x, p.y) for p in o.points] for o in objects] == [[(1, 1), (3, 3)], [(2, 2)], [(4, 4)]]


def test_polygon_becomes_its_bounding_box(write) -> None:
    triangle = Polygon([(10, 10), (30, 12), (18, 40)])
    path = write("p.geojson", [triangle], crs="EPSG:32633")
    (obj,) = read_prompts(path)
    assert tuple(obj.box) == (10, 10, 30, 40) and obj.points == ()


def test_crs_comes_from_the_file_or_the_argument(write) -> None:
    with_crs = write("a.gpkg", [Point(15.0, 36.0)], crs="EPSG:4326")
    (obj,) = read_prompts(with_crs, crs="EPSG:32633")  # the file's own CRS wins
    assert obj.crs == WGS84
    without = write("b.gpkg", [Point(500010, 3999990)], crs=None)
    (obj,) = read_prompts(without, crs="EPSG:32633")
    assert obj.crs == UTM
    with pytest.raises(PromptError, match="no CRS"):
        read_prompts(without)
    shapefile = write("c.shp", [Point(500010, 3999990)], crs=None)
    with pytest.raises(PromptError, match="no CRS"):
        read_prompts(shapefile)


def test_background_only_group_is_refused(write) -> None:
    path = write("p.gpkg", [Point(1, 1), Point(2, 2), Point(3, 3)], label=[1, 0, 0], group=["a", "b", "b"])
    with pytest.raises(PromptError, match="group 'b'.*only background"):
        read_prompts(path)
    single = write("q.gpkg", [Point(1, 1), Point(2, 2)], label=[1, 0])
    with pytest.raises(PromptError, match="feature 2 .*only background"):
        read_prompts(single)


@pytest.mark.parametrize("label", [2, -1])
def test_bad_label_is_refused(write, label) -> None:
    path = write("p.gpkg", [Point(1, 1), Point(2, 2)], label=[1, label])
    with pytest.raises(PromptError, match="feature 2 .*has label .*use 1 .*or 0"):
        read_prompts(path)


def test_bad_label_message_shows_the_plain_value(write) -> None:
    path = write("p.gpkg", [Point(1, 1)], label=[2])
    with pytest.raises(PromptError, match="has label 2;"):
        read_prompts(path)


def test_missing_label_is_refused(write) -> None:
    path = write("p.gpkg", [Point(1, 1), Point(2, 2)], label=[1.0, np.nan])
    with pytest.raises(PromptError, match="feature 2 .*label"):
        read_prompts(path)


def test_text_label_is_refused_with_a_prompt_error(write) -> None:
    path = write("p.gpkg", [Point(1, 1)], label=["fg"])
    with pytest.raises(PromptError, match="label"):
        read_prompts(path)


def test_fractional_label_is_refused(write) -> None:
    path = write("p.gpkg", [Point(1, 1)], label=[1.5])
    with pytest.raises(PromptError, match="label"):
        read_prompts(path)


@pytest.mark.parametrize("geometry,kind", [(LineString([(0, 0), (1, 1)]), "LineString"),
                                           (MultiPoint([(0, 0), (1, 1)]), "MultiPoint")])
def test_other_geometries_are_refused(write, geometry, kind) -> None:
    path = write("p.geojson", [Point(5, 5), geometry])  # GeoJSON keeps mixed geometry types
    with pytest.raises(PromptError, match=f"feature 2 .*is a {kind}"):
        read_prompts(path)


def test_two_polygons_in_one_group_are_refused(write) -> None:
    path = write("p.gpkg", [box(0, 0, 1, 1), box(2, 2, 3, 3)], group=["x", "x"])
    with pytest.raises(PromptError, match="group 'x'.*two polygons"):
        read_prompts(path)


def test_empty_and_unreadable_files_are_refused(write, tmp_path) -> None:
    empty = write("e.gpkg", [], label=np.array([], dtype=int))
    with pytest.raises(PromptError, match="no features"):
        read_prompts(empty)
    with pytest.raises(PromptError, match="cannot read"):
        read_prompts(tmp_path / "missing.gpkg")
    junk = tmp_path / "junk.gpkg"
    junk.write_text("not a geopackage")
    with pytest.raises(PromptError, match="cannot read"):
        read_prompts(junk)


def test_batch_file_to_saved_layer(write, source, tmp_path) -> None:
    t = source.grid.transform
    points = [Point(*(t @ (c, r))) for c, r in [(100.5, 100.5), (110.5, 105.5), (400.5, 300.5)]]
    square = box(*(t @ (500, 450)), *(t @ (560, 400)))
    lonlat = gpd.GeoSeries([*points, square], crs=UTM).to_crs(WGS84)  # prompts in another CRS
    path = write("p.geojson", list(lonlat), crs="EPSG:4326", label=[1, 0, 1, 1],
                 group=["a", "a", None, None])
    objects = read_prompts(path)
    assert [(o.fg_count, o.bg_count, o.box is not None) for o in objects] == [
        (1, 1, False), (1, 0, False), (0, 0, True)]
    seg = Segmenter(source, vector=VectorOptions(max_polygon_only=True), max_chips=2)
    results = seg.segment_many(objects)
    for obj, result in zip(objects, results, strict=True):
        assert result.prompts == obj.to_crs(source.crs)
        assert result.prompts.crs == source.crs
    layer = OutputLayer(tmp_path / "out.gpkg", source.crs)
    groups = save_results(layer, results, source.model_id, source.name)
    kept = [r for r in results if not r.is_empty]
    assert len(groups) == len(kept) and len({g.group_id for g in groups}) == len(groups)
    df = pyogrio.read_dataframe(layer.path)
    assert len(df) == sum(len(g.rows) for g in groups)
    assert list(df["fg_points"]) == [r.prompts.fg_count for r in kept for _ in r.polygons]


# CSV prompts: x/y in --crs (default: the source's), lon/lat in EPSG:4326 (unless --crs says otherwise).


def test_csv_of_xy_points_in_the_given_or_default_crs(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("X,Y,Label,Group\n500010,3999990,1,a\n500020.5,3999980,0,a\n500100,3999900,,\n")
    a, single = read_prompts(path, default_crs=UTM)
    assert a == PromptSet(UTM).add_point(500010, 3999990).add_point(500020.5, 3999980, 0)
    assert single == PromptSet(UTM).add_point(500100, 3999900)
    (a, single) = read_prompts(path, crs="32634", default_crs=UTM)  # --crs wins over the source's
    assert a.crs == single.crs == CRS.from_epsg(32634)
    with pytest.raises(PromptError, match="x/y .*--crs"):
        read_prompts(path)  # no --crs and no source to take the CRS from


@pytest.mark.parametrize("header,sep", [("lon,lat", ","), ("LONGITUDE;LATITUDE", ";"),
                                        ("Lat\tLon", "\t")])
def test_csv_of_lon_lat_points_is_wgs84(tmp_path, header, sep) -> None:
    path = tmp_path / "p.csv"
    names = [h.lower() for h in header.split(sep)]
    values = {"lon": "15.25", "longitude": "15.25", "lat": "36.5", "latitude": "36.5"}
    path.write_text(header + "\n" + sep.join(values[n] for n in names) + "\n", encoding="utf-8-sig")
    (obj,) = read_prompts(path, default_crs=UTM)
    assert obj == PromptSet(WGS84).add_point(15.25, 36.5)
    (obj,) = read_prompts(path, crs="EPSG:4258", default_crs=UTM)
    assert obj.crs == CRS.from_epsg(4258)


def test_csv_without_coordinate_columns_names_found_and_expected(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("easting,northing\n500010,3999990\n")
    with pytest.raises(PromptError, match="columns easting, northing.*x,y.*lon,lat.*longitude,latitude"):
        read_prompts(path, default_crs=UTM)


def test_csv_errors_name_the_row(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x,y\n1,2\nabc,3\n")
    with pytest.raises(PromptError, match="row 3 .*'abc'"):
        read_prompts(path, default_crs=UTM)
    path.write_text("x,y,label\n1,2,1\n3,4,2\n")
    with pytest.raises(PromptError, match="row 3 .*has label '2'"):
        read_prompts(path, default_crs=UTM)
    path.write_text("x,y\n")
    with pytest.raises(PromptError, match="no features"):
        read_prompts(path, default_crs=UTM)


# GeoJSON: RFC 7946 says coordinates without a `crs` member are WGS 84; --crs given says otherwise.


def test_geojson_without_crs_member_is_in_the_given_crs(tmp_path) -> None:
    path = tmp_path / "p.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
                    '"geometry": {"type": "Point", "coordinates": [500010.0, 3999990.0]}}]}')
    (obj,) = read_prompts(path, crs="EPSG:32633", default_crs=WGS84)
    assert obj == PromptSet(UTM).add_point(500010, 3999990)
    path.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
                    '"geometry": {"type": "Point", "coordinates": [15.0, 36.0]}}]}')
    (obj,) = read_prompts(path, default_crs=UTM)  # no --crs: the spec's WGS 84
    assert obj == PromptSet(WGS84).add_point(15, 36)


def test_geojson_with_a_crs_member_keeps_it(write) -> None:
    path = write("p.geojson", [Point(500010, 3999990)], crs="EPSG:32633")
    (obj,) = read_prompts(path, crs="EPSG:4326")
    assert obj.crs == UTM


def test_a_geopackage_of_several_layers_needs_one_named(write) -> None:
    path = write("multi.gpkg", [box(500100, 3999800, 500150, 3999900)])
    gpd.GeoDataFrame({"label": [1, 1]}, geometry=[Point(500010, 3999990), Point(500020, 3999980)],
                     crs="EPSG:32633").to_file(path, layer="pts")
    with pytest.raises(PromptError, match=r"holds 2 layers \(multi, pts\); name one, e\.g\. '.*:multi'"):
        read_prompts(path)
    points = read_prompts(f"{path}:pts")
    assert points == [PromptSet(UTM).add_point(500010, 3999990), PromptSet(UTM).add_point(500020, 3999980)]
    assert read_prompts(f"{path}:multi") == [PromptSet(UTM).with_box((500100, 3999800, 500150, 3999900))]
    with pytest.raises(PromptError, match="has no layer 'nope'; its layers: multi, pts"):
        read_prompts(f"{path}:nope")


def test_a_multipoint_of_one_point_is_a_point(write) -> None:
    path = write("one.gpkg", [MultiPoint([(500010, 3999990)])])
    assert read_prompts(path) == [PromptSet(UTM).add_point(500010, 3999990)]
