"""`samscape segment`: real feature folders and rasters in, real GIS layers out.

Successful runs go through click's runner (as in test_cli.py), which keeps the suite fast; the
user errors, and one complete successful run, are real `python -m samscape.cli.main` processes,
all started at once (each pays for importing torch and transformers) and checked one per test.
The model has random weights: nothing here asserts *what* is segmented, only where polygons lie
(on the pixel grid, inside the source), the fields, the files and the errors.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from rasterio.warp import transform as warp_points
from rasterio.warp import transform_bounds
from shapely.geometry import Point, box, shape

import samscape
from samscape.cli.main import cli
from samscape.vector import OutputLayer

TINY = "tiny-random-sam"
RASTER_NAME = "scene.tif"
TRANSFORM = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
SIZE = 300                                               # 300 x 300 px: 2 x 2 chips of 256
EXTENT = (500000.0, 3999850.0, 500150.0, 4000000.0)      # EPSG:32633
POINT = (500010.25, 3999990.25)                          # pixel (20, 19): only chip 0 covers it
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def xy(x: float, y: float) -> str:
    return f"{x!r},{y!r}"


def write_raster(path: Path) -> Path:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    bands = [np.sin(xx / (11 + 4 * b)) + np.cos(yy / (13 + 3 * b)) + 0.2 * rng.standard_normal(xx.shape)
             for b in range(3)]
    data = np.stack([(b - b.min()) / np.ptp(b) * 230 + 10 for b in bands]).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=TRANSFORM) as ds:
        ds.write(data)
    return path


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The tiny model needs no thread pool; on a busy 2-core machine (the error processes below run
    beside it) spinning OpenMP workers would make each in-process run many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(raster, its feature folder), made once; tests that alter the folder copy it first."""
    base = tmp_path_factory.mktemp("segment-source")
    raster = write_raster(base / RASTER_NAME)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAMSCAPE_HOME", str(base / "home"))
        samscape.encode(str(raster), base / "features", model=TINY, progress=False)
    return raster, base / "features"


def invoke(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def segment(*args) -> str:
    code, out, err = invoke("segment", *args)
    assert code == 0, err
    return out


def ulid_time(value: str) -> datetime:
    number = 0
    for char in value[:10]:
        number = number * 32 + _CROCKFORD.index(char)
    return datetime.fromtimestamp(number / 1000, timezone.utc)


def check_layer(path: Path, *, fg: int, bg: int, box_used: int, groups: int,
                started: datetime, crs: int = 32633) -> gpd.GeoDataFrame:
    """Everything `samscape segment` promises about the rows of a layer it wrote."""
    frame = pyogrio.read_dataframe(path)
    info = pyogrio.read_info(path)
    assert info["crs"] == f"EPSG:{crs}" and info["geometry_type"] == "Polygon"
    assert list(info["fields"]) == ["group_id", "group_size", "area_m2", "fg_points", "bg_points",
                                    "box_used", "score", "model", "source", "created"]
    assert len(frame) > 0
    assert frame["group_id"].nunique() == groups
    finished = datetime.now(timezone.utc)
    for group_id, rows in frame.groupby("group_id", sort=False):
        assert ULID.match(group_id), group_id
        assert started - timedelta(seconds=1) <= ulid_time(group_id) <= finished
        assert set(rows["group_size"]) == {len(rows)}
        assert rows["score"].nunique() == 1
    assert set(frame["fg_points"]) == {fg} and set(frame["bg_points"]) == {bg}
    assert set(frame["box_used"]) == {box_used}
    assert set(frame["model"]) == {TINY} and set(frame["source"]) == {RASTER_NAME}
    for row in frame.itertuples():
        assert row.geometry.geom_type == "Polygon" and row.geometry.is_valid
        if crs == 32633:  # m² on the ellipsoid: UTM's scale is 0.9996 here
            assert row.area_m2 == pytest.approx(row.geometry.area, rel=1e-3)
        assert math.isfinite(row.score) and round(row.score, 6) == row.score
        created = datetime.fromisoformat(row.created)
        assert created.utcoffset() == timedelta(0)
        assert started - timedelta(seconds=1) <= created <= finished
    return frame


def check_on_pixel_grid(frame: gpd.GeoDataFrame) -> None:
    """Pixel-mode polygons: every vertex a pixel corner of the source, all inside its extent."""
    coords = shapely.get_coordinates(frame.geometry.values)
    cols, rows = (coords[:, 0] - 500000.0) / 0.5, (4000000.0 - coords[:, 1]) / 0.5
    assert np.array_equal(cols, np.round(cols)) and np.array_equal(rows, np.round(rows))
    x0, y0, x1, y1 = frame.total_bounds
    assert EXTENT[0] <= x0 and EXTENT[1] <= y0 and x1 <= EXTENT[2] and y1 <= EXTENT[3]


def normalized(geometries) -> list[bytes]:
    return [shapely.to_wkb(shapely.normalize(g)) for g in geometries]


# ---------------------------------------------------------------------------------------------
# Successful runs (in process)


def test_point_bg_point_and_box_make_one_group(source, tmp_path):
    _, folder = source
    out = tmp_path / "objects.gpkg"
    started = datetime.now(timezone.utc)
    text = segment(folder, "--out", out, "--point", xy(*POINT), "--point", "500012.0,3999988.0",
                   "--bg-point", "500030.0,3999970.0", "--box", "500000.5,3999960.5,500040.5,3999999.5",
                   "--quiet")
    frame = check_layer(out, fg=2, bg=1, box_used=1, groups=1, started=started)
    check_on_pixel_grid(frame)
    assert text.strip() == f"saved {len(frame)} polygon(s) of 1 object(s) to {out}"


def test_several_boxes_alone_make_one_group_each(source, tmp_path):
    _, folder = source
    out = tmp_path / "boxes.shp"
    boxes = ["500005,3999960,500040,3999995", "500100,3999960,500140,3999995",
             "500010,3999860,500050,3999890"]
    started = datetime.now(timezone.utc)
    text = segment(folder, "--out", out, *[a for b in boxes for a in ("--box", b)], "-q")
    frame = check_layer(out, fg=0, bg=0, box_used=1, groups=3, started=started)
    check_on_pixel_grid(frame)
    assert f"of 3 object(s) to {out}" in text
    # Groups are written in the order of the boxes, each one's rows together.
    ids = list(dict.fromkeys(frame["group_id"]))
    assert list(frame["group_id"]) == sorted(frame["group_id"], key=ids.index)


def test_runs_append_to_the_same_layer(source, tmp_path):
    _, folder = source
    out = tmp_path / "both.gpkg"
    segment(folder, "--out", out, "--point", xy(*POINT), "-q")
    first = pyogrio.read_dataframe(out)
    segment(folder, "--out", out, "--box", "500100,3999960,500140,3999995", "-q")
    both = pyogrio.read_dataframe(out)
    assert both["group_id"].nunique() == 2
    kept = both.iloc[:len(first)]
    assert normalized(kept.geometry) == normalized(first.geometry)
    assert kept.drop(columns="geometry").equals(first.drop(columns="geometry"))
    assert set(both.iloc[len(first):]["box_used"]) == {1}


def test_prompts_in_another_crs_and_output_in_another_crs(source, tmp_path):
    _, folder = source
    segment(folder, "--out", tmp_path / "utm.gpkg", "--point", xy(*POINT), "-q")
    utm = pyogrio.read_dataframe(tmp_path / "utm.gpkg")

    (lon,), (lat,) = warp_points("EPSG:32633", "EPSG:4326", [POINT[0]], [POINT[1]])
    assert 14.9 < lon < 15.1 and 36.0 < lat < 36.2
    started = datetime.now(timezone.utc)
    segment(folder, "--out", tmp_path / "from_geo.gpkg", "--crs", "EPSG:4326",
            "--point", xy(lon, lat), "-q")
    from_geo = check_layer(tmp_path / "from_geo.gpkg", fg=1, bg=0, box_used=0, groups=1,
                           started=started)
    # The same place given in degrees gives the same object as in metres.
    assert normalized(from_geo.geometry) == normalized(utm.geometry)

    text = segment(folder, "--out", tmp_path / "geo.gpkg", "--out-crs", "EPSG:4326",
                   "--point", xy(*POINT), "--json", "-q")
    geo = check_layer(tmp_path / "geo.gpkg", fg=1, bg=0, box_used=0, groups=1, started=started,
                      crs=4326)
    west, south, east, north = geo.total_bounds
    bounds = transform_bounds("EPSG:32633", "EPSG:4326", *EXTENT)
    assert bounds[0] - 1e-9 <= west and east <= bounds[2] + 1e-9
    assert bounds[1] - 1e-9 <= south and north <= bounds[3] + 1e-9
    expected = utm.to_crs("EPSG:4326")
    assert len(geo) == len(expected)
    for got, want in zip(geo.geometry, expected.geometry, strict=True):
        assert got.symmetric_difference(want).area <= 1e-6 * want.area
    assert geo["area_m2"].iloc[0] == pytest.approx(utm["area_m2"].iloc[0], rel=1e-6)  # m² in any CRS
    collection = json.loads(text)
    assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:OGC:1.3:CRS84"  # lon, lat
    lon, lat = collection["features"][0]["geometry"]["coordinates"][0][0]
    assert 14 < lon < 16 and 35 < lat < 37


def test_live_raster_with_cache_folder(source, tmp_path):
    raster, folder = source
    cache = tmp_path / "cache"
    out = tmp_path / "live.fgb"
    started = datetime.now(timezone.utc)
    segment(raster, "--model", TINY, "--cache", cache, "--out", out, "--point", xy(*POINT), "-q")
    live = check_layer(out, fg=1, bg=0, box_used=0, groups=1, started=started)
    check_on_pixel_grid(live)

    code, text, err = invoke("info", cache, "--json", "--validate")
    assert code == 0, err
    info = json.loads(text)
    assert info["model"]["id"] == TINY and info["crs"] == "EPSG:32633"
    assert info["problems"] == {} and 1 <= info["chip_count"] <= 4
    assert (cache / "manifest.parquet").is_file() and list((cache / "features").glob("chip_*.pt"))

    # Live chips are those `samscape encode` makes: the same object as from the folder.
    segment(folder, "--out", tmp_path / "encoded.fgb", "--point", xy(*POINT), "-q")
    encoded = pyogrio.read_dataframe(tmp_path / "encoded.fgb")
    assert sorted(normalized(live.geometry)) == sorted(normalized(encoded.geometry))


def test_prompts_file_makes_one_group_per_object(source, tmp_path):
    _, folder = source
    prompts = tmp_path / "prompts.gpkg"
    gpd.GeoDataFrame(
        {"label": [1, 1, 0, 1, 1], "group": ["a", "a", "a", "b", None]},
        geometry=[Point(500010.25, 3999990.25), Point(500014.75, 3999986.25),
                  Point(500030.0, 3999970.0), Point(500120.0, 3999980.0),
                  box(500010, 3999860, 500050, 3999890)],
        crs="EPSG:32633",
    ).to_file(prompts)
    out = tmp_path / "batch.geojson"
    started = datetime.now(timezone.utc)
    text = segment(folder, "--out", out, "--prompts", prompts, "-q")
    assert f"of 3 object(s) to {out}" in text
    frame = pyogrio.read_dataframe(out, DATE_AS_STRING="YES")
    assert frame.crs.to_epsg() == 32633
    counts = {gid: (int(r["fg_points"].iloc[0]), int(r["bg_points"].iloc[0]), int(r["box_used"].iloc[0]))
              for gid, r in frame.groupby("group_id")}
    # group 'a': two foreground and one background point; group 'b': one point; the polygon: a box
    assert sorted(counts.values()) == [(0, 0, 1), (1, 0, 0), (2, 1, 0)]
    for gid, rows in frame.groupby("group_id"):
        assert ULID.match(gid) and set(rows["group_size"]) == {len(rows)}
        assert ulid_time(gid) >= started - timedelta(seconds=1)
    check_on_pixel_grid(frame)


def test_skip_outside_segments_the_objects_inside_and_warns_of_the_others(source, tmp_path):
    _, folder = source
    prompts = tmp_path / "mixed.csv"
    prompts.write_text("x,y\n500010.25,3999990.25\n400000,3999900\n500120,3999980\n")
    out = tmp_path / "mixed.gpkg"
    code, _, err = invoke("segment", folder, "--out", out, "--prompts", prompts, "-q")
    assert code == 1 and "object 2 of 3: a prompt lies outside" in err and "--skip-outside" in err
    assert not out.exists()
    code, text, err = invoke("segment", folder, "--out", out, "--prompts", prompts, "-q",
                             "--skip-outside")
    assert code == 0 and f"of 2 object(s) to {out}" in text
    assert err.startswith("samscape: warning: skipped 1 of 3 object(s): object 2 of 3: a prompt lies "
                          "outside the source") and len(err.splitlines()) == 1
    assert pyogrio.read_dataframe(out)["group_id"].nunique() == 2
    prompts.write_text("x,y\n400000,3999900\n")
    code, _, err = invoke("segment", folder, "--out", out, "--prompts", prompts, "--skip-outside")
    assert code == 1 and "no object lies inside the source" in err


def test_vector_options_reach_the_layer(source, tmp_path):
    _, folder = source
    out = tmp_path / "largest.gpkg"
    segment(folder, "--out", out, "--box", "500005,3999960,500040,3999995",
            "--box", "500100,3999960,500140,3999995", "--max-polygon-only", "-q")
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == 2 and set(frame["group_size"]) == {1}

    code, text, _ = invoke("segment", folder, "--out", tmp_path / "none.gpkg", "--point", xy(*POINT),
                           "--min-area", "1e9", "-q")
    assert code == 0
    assert text.strip() == ("saved 0 polygon(s) of 0 object(s) (nothing written); 1 object(s) kept no "
                            "polygon (all below --min-area or --min-pixels)")
    assert not (tmp_path / "none.gpkg").exists()


# ---------------------------------------------------------------------------------------------
# Real processes: one complete run, and every user error


@dataclass
class Case:
    argv: list[str]
    out: Path
    needles: list[str] = field(default_factory=list)
    before: dict[str, tuple[bytes, int]] | None = None  # folder snapshot when the output exists
    proc: subprocess.Popen | None = None


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())
            if p.is_file()}


def samscape_fields_frame(crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"group_id": ["01HZZZZZZZZZZZZZZZZZZZZZZZ"], "group_size": np.array([1], "int32"),
         "area_m2": [1.0], "fg_points": np.array([1], "int32"), "bg_points": np.array([0], "int32"),
         "box_used": np.array([0], "int32"), "score": [0.5], "model": [TINY],
         "source": [RASTER_NAME], "created": ["2024-01-01T00:00:00+00:00"]},
        geometry=[box(15.0, 36.1, 15.0001, 36.1001)], crs=crs,
    )


def build_cases(base: Path, raster: Path, folder: Path) -> dict[str, Case]:
    def case_dir(name: str) -> Path:
        d = base / name
        d.mkdir()
        return d

    def copy_folder(name: str) -> Path:
        return Path(shutil.copytree(folder, base / name / "features"))

    cases: dict[str, Case] = {}
    point = ["--point", xy(*POINT)]

    d = case_dir("run")
    cases["run"] = Case([str(folder), "--out", str(d / "out.gpkg"), *point, "--json", "--quiet"],
                       d / "out.gpkg")

    d = case_dir("outside_geographic")
    cases["outside_geographic"] = Case(
        [str(folder), "--out", str(d / "out.gpkg"), "--crs", "EPSG:4326", "--point", "16.5,40.25"],
        d / "out.gpkg", ["a prompt lies outside the source", "(EPSG:4326)"])

    d = case_dir("not_a_feature_folder")
    shutil.copy(raster, d / RASTER_NAME)
    cases["not_a_feature_folder"] = Case([str(d), "--out", str(d / "out.gpkg"), *point],
                                         d / "out.gpkg", ["is a folder but not a feature folder"])

    features = copy_folder("missing_chip")
    (features / "features" / "chip_000000.pt").unlink()
    cases["missing_chip"] = Case([str(features), "--out", str(base / "missing_chip" / "out.gpkg"),
                                  *point], base / "missing_chip" / "out.gpkg",
                                 ["chip 0", "is missing", "chip_000000.pt"])

    features = copy_folder("corrupt_chip")
    (features / "features" / "chip_000000.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    cases["corrupt_chip"] = Case([str(features), "--out", str(base / "corrupt_chip" / "out.gpkg"),
                                  *point], base / "corrupt_chip" / "out.gpkg", ["chip 0", "is corrupt"])

    d = case_dir("other_schema")
    gpd.GeoDataFrame({"name": ["parcel"], "value": [2.5]}, geometry=[box(*EXTENT)],
                     crs="EPSG:32633").to_file(d / "out.gpkg")
    cases["other_schema"] = Case([str(folder), "--out", str(d / "out.gpkg"), *point], d / "out.gpkg",
                                 ["lacks samscape's fields", "has fields of its own (name, value)",
                                  "left untouched"],
                                 before=snapshot(d))

    d = case_dir("other_crs")
    samscape_fields_frame("EPSG:4326").to_file(d / "out.gpkg")
    cases["other_crs"] = Case([str(folder), "--out", str(d / "out.gpkg"), "--out-crs", "EPSG:3857",
                               *point], d / "out.gpkg",
                              ["is in CRS EPSG:4326, not EPSG:3857", "--out-crs EPSG:4326"],
                              before=snapshot(d))

    d = case_dir("unknown_extension")
    cases["unknown_extension"] = Case([str(folder), "--out", str(d / "out.txt"), *point],
                                      d / "out.txt", ["unknown output extension '.txt'"])

    d = case_dir("live_without_model")
    cases["live_without_model"] = Case([str(raster), "--out", str(d / "out.gpkg"), *point],
                                       d / "out.gpkg", ["is a raster", "needs a model", "--model"])

    d = case_dir("no_prompts")
    cases["no_prompts"] = Case([str(folder), "--out", str(d / "out.gpkg")], d / "out.gpkg",
                               ["nothing to segment", "--point", "--prompts"])
    return cases


@pytest.fixture(scope="module")
def processes(source, tmp_path_factory):
    """Every case started at once as its own `python -m samscape.cli.main segment` process."""
    raster, folder = source
    base = tmp_path_factory.mktemp("segment-processes")
    cases = build_cases(base, raster, folder)
    env = {**os.environ, "SAMSCAPE_HOME": str(base / "home"), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1"}
    for name, case in cases.items():
        with (base / f"{name}.stdout").open("w") as out, (base / f"{name}.stderr").open("w") as err:
            case.proc = subprocess.Popen(
                [sys.executable, "-m", "samscape.cli.main", "segment", *case.argv],
                stdout=out, stderr=err, env=env,
            )
    yield base, cases
    for case in cases.values():
        if case.proc.poll() is None:
            case.proc.kill()
            case.proc.wait()


def finished(base: Path, cases: dict[str, Case], name: str) -> tuple[Case, str, str]:
    case = cases[name]
    case.proc.wait(timeout=300)
    return case, (base / f"{name}.stdout").read_text(), (base / f"{name}.stderr").read_text()


@pytest.mark.slow
def test_process_run_writes_the_layer_and_prints_it_as_geojson(processes):
    base, cases = processes
    started = datetime.now(timezone.utc) - timedelta(minutes=5)
    case, stdout, stderr = finished(base, cases, "run")
    assert case.proc.returncode == 0, stderr
    frame = check_layer(case.out, fg=1, bg=0, box_used=0, groups=1, started=started)
    check_on_pixel_grid(frame)
    collection = json.loads(stdout)
    assert collection["type"] == "FeatureCollection"
    assert collection["crs"] == {"type": "name", "properties": {"name": "EPSG:32633"}}
    features = collection["features"]
    assert len(features) == len(frame)
    for feature, row in zip(features, frame.itertuples(index=False), strict=True):
        assert feature["type"] == "Feature"
        assert normalized([shape(feature["geometry"])]) == normalized([row.geometry])
        expected = {name: getattr(row, name) for name in feature["properties"]}
        assert feature["properties"] == expected
        assert list(feature["properties"]) == list(pyogrio.read_info(case.out)["fields"])
    assert sorted(os.listdir(case.out.parent)) == ["out.gpkg"]


@pytest.mark.parametrize("name", [
    "outside_geographic", "not_a_feature_folder", "missing_chip", "corrupt_chip", "other_schema",
    "other_crs", "unknown_extension", "live_without_model", "no_prompts",
])
@pytest.mark.slow
def test_user_error_is_one_line_and_writes_nothing(processes, name):
    base, cases = processes
    case, stdout, stderr = finished(base, cases, name)
    assert case.proc.returncode != 0
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("samscape: error: "), stderr
    for needle in case.needles:
        assert needle in lines[0], (needle, lines[0])
    assert stdout == ""
    folder = case.out.parent
    if case.before is None:
        assert not case.out.exists()
        assert not [p for p in folder.iterdir() if p.suffix in (".gpkg", ".txt") or p.name.startswith(".")]
    else:
        assert snapshot(folder) == case.before  # same files, same bytes, same mtimes


@pytest.mark.slow
def test_outside_message_gives_the_extent_in_the_prompt_crs(processes):
    base, cases = processes
    _, _, stderr = finished(base, cases, "outside_geographic")
    found = re.search(r"its extent is ([-\d.]+), ([-\d.]+), ([-\d.]+), ([-\d.]+) \(EPSG:4326\)", stderr)
    assert found, stderr
    expected = transform_bounds("EPSG:32633", "EPSG:4326", *EXTENT)
    assert [float(v) for v in found.groups()] == pytest.approx(expected, abs=2e-6)


@pytest.mark.slow
def test_missing_chip_message_names_the_chip_file(processes):
    base, cases = processes
    _, _, stderr = finished(base, cases, "missing_chip")
    assert "(features/chip_000000.pt)" in stderr
    assert str(cases["missing_chip"].argv[0]) in stderr


# ---------------------------------------------------------------------------------------------
# More user errors, in process (same one-line contract, checked through click's runner)


def test_a_live_raster_without_crs_says_how_segment_takes_one(make_raster, tmp_path):
    raster = make_raster(crs=None)
    code, _, stderr = invoke("segment", raster, "--model", "tiny-random-sam", "--point", "500050,3999950",
                             "--out", tmp_path / "out.gpkg", "-q")
    assert code != 0 and '"crs": "EPSG:XXXX" in the --settings file' in stderr
    (tmp_path / "settings.json").write_text('{"crs": "EPSG:32633"}')
    code, _, stderr = invoke("segment", raster, "--model", "tiny-random-sam", "--point", "500050,3999950",
                             "--settings", tmp_path / "settings.json", "--cache", tmp_path / "cache",
                             "--out", tmp_path / "out.gpkg", "-q")
    assert code == 0, stderr
    assert OutputLayer.crs_of(tmp_path / "out.gpkg").to_epsg() == 32633


def test_a_missing_source_is_no_such_file(tmp_path):
    code, stdout, stderr = invoke("segment", tmp_path / "nothing.tif", "--point", "1,2",
                                  "--out", tmp_path / "out.gpkg")
    assert code != 0 and stdout == "" and not (tmp_path / "out.gpkg").exists()
    assert stderr.strip() == (f"samscape: error: no such file or folder: '{tmp_path / 'nothing.tif'}'; "
                              "give a feature folder, or a raster with --model")


def _truncate_chip(folder: Path) -> None:
    chip = folder / "features" / "chip_000000.pt"
    chip.write_bytes(chip.read_bytes()[: chip.stat().st_size // 2])


@pytest.mark.parametrize(
    ("args", "needles", "alter"),
    [
        (["--point", "500200,3999900"],
         ["a prompt lies outside the source",
          "its extent is 500000.00, 3999850.00, 500150.00, 4000000.00 (EPSG:32633)"], None),
        (["--point", xy(*POINT), "--bg-point", "499990,3999990"], ["lies outside the source"], None),
        (["--box", "500200,3999900,500300,3999950"], ["lies outside the source"], None),
        (["--point", xy(*POINT)], ["chip 0", "is corrupt"], _truncate_chip),
        (["--point", "1,2,3"], ["point '1,2,3' is not valid: give 2 comma-separated numbers"], None),
        (["--box", "500040,3999960,500005,3999995"], ["XMIN < XMAX"], None),
        (["--point", xy(*POINT), "--box", "500005,3999960,500040,3999995",
          "--box", "500100,3999960,500140,3999995"], ["points go with at most one --box"], None),
        (["--point", xy(*POINT), "--prompts", "{prompts}"], ["either with --prompts or with --point"],
         None),
        (["--point", xy(*POINT), "--cache", "{tmp}/cache"], ["--settings and --cache are for live"],
         None),
        (["--point", xy(*POINT), "--model", "sam-vit-base"], ["was encoded with model 'tiny-random-sam'"],
         None),
        (["--point", xy(*POINT), "--vectorize", "simplified", "--tolerance", "-1"],
         ["tolerance must be a number >= 0"], None),
    ],
    ids=["outside", "bg-point-outside", "box-outside", "truncated-chip", "bad-point", "bad-box",
         "points-with-two-boxes", "prompts-and-points", "cache-with-folder", "other-model",
         "negative-tolerance"],
)
def test_more_user_errors(source, tmp_path, args, needles, alter):
    _, folder = source
    if alter is not None:
        folder = Path(shutil.copytree(folder, tmp_path / "features"))
        alter(folder)
    (tmp_path / "prompts.gpkg").write_bytes(b"")
    out = tmp_path / "out.gpkg"
    argv = [a.format(prompts=tmp_path / "prompts.gpkg", tmp=tmp_path) for a in args]
    code, stdout, stderr = invoke("segment", folder, "--out", out, *argv, "-q")
    assert code != 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("samscape: error: "), stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert stdout == "" and not out.exists() and not (tmp_path / "cache").exists()


def test_out_crs_other_than_the_existing_layer_is_refused(source, tmp_path):
    _, folder = source
    out = tmp_path / "utm.parquet"
    segment(folder, "--out", out, "--point", xy(*POINT), "-q")
    before = snapshot(tmp_path)
    code, _, stderr = invoke("segment", folder, "--out", out, "--out-crs", "EPSG:4326",
                             "--point", xy(*POINT), "-q")
    assert code != 0
    assert stderr.strip() == (f"samscape: error: '{out}' is in CRS EPSG:32633, not EPSG:4326; it is "
                              "left untouched: choose a new file, or pass --out-crs EPSG:32633")
    assert snapshot(tmp_path) == before
    frame = gpd.read_parquet(out)
    assert frame.crs.to_epsg() == 32633 and frame["group_id"].nunique() == 1
    degrees = tmp_path / "degrees.gpkg"  # without --out-crs, an existing layer keeps its CRS
    segment(folder, "--out", degrees, "--out-crs", "EPSG:4326", "--point", xy(*POINT), "-q")
    segment(folder, "--out", degrees, "--point", xy(*POINT), "-q")
    frame = gpd.read_file(degrees)
    assert frame.crs.to_epsg() == 4326 and frame["group_id"].nunique() == 2
    first, second = (frame[frame["group_id"] == g].geometry.union_all() for g in frame["group_id"].unique())
    assert first.symmetric_difference(second).area <= 1e-9 * first.area
