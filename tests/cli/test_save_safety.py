"""`samscape segment --out` through real processes: a user's GeoPackage keeps its other layers
(three CLIs saving into it at once), a ';' in the name is refused without writing anything, a
read-only folder, a file size limit and a full disk give one line and leave the layer as it was;
an upper-case '.SHP' is refused."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import rasterio
import shapely
from affine import Affine
from conftest import fill, mount_tmpfs
from rasterio.crs import CRS
from shapely.geometry import box

import samscape
from samscape.vector import FIELDS, OutputLayer, SavedPolygon

TINY = "tiny-random-sam"
POINT = "500010.25,3999990.25"
SMALL = ("--vectorize", "simplified", "--tolerance", "20")  # a few vertices: GDAL writes them at close


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("save-safety")
    yy, xx = np.mgrid[0:256, 0:256]
    data = np.stack([(np.sin(xx / (9 + b)) + np.cos(yy / 13)) * 60 + 128 for b in range(3)]).astype("uint8")
    with rasterio.open(base / "scene.tif", "w", driver="GTiff", width=256, height=256, count=3,
                       dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)) as ds:
        ds.write(data)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAMSCAPE_HOME", str(base / "home"))
        samscape.encode(str(base / "scene.tif"), base / "features", model=TINY, progress=False)
    return base / "features"


def start(folder: Path, out: str, limit: int | None = None, *options: str) -> subprocess.Popen:
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "segment", str(folder),
                             "--out", out, "--point", POINT, "-q", *options], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=limited if limit else None)


def project_gpkg(path: Path) -> None:
    wkb = shapely.to_wkb([box(500000, 3999000, 500100, 3999100)])
    pyogrio.raw.write(path, wkb, [np.array(["a"], object)], ["name"], layer="project", driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:32633")
    line = shapely.to_wkb([shapely.LineString([(500000, 3999000), (500500, 3999500)])])
    pyogrio.raw.write(path, line, [np.array([3], "int32")], ["lanes"], layer="roads", driver="GPKG",
                      geometry_type="LineString", crs="EPSG:32633")
    pyogrio.raw.write(path, None, [np.array(["project"], object), np.array(["<qml/>"], object)],
                      ["f_table_name", "styleQML"], layer="layer_styles", driver="GPKG")


def user_tables(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall()
                for t in ("project", "roads", "layer_styles", "rtree_project_geom", "rtree_roads_geom")}


def full_disk(folder: Path, layer: str, leave: int) -> bytes:
    """`folder` on a real 300 KiB tmpfs holding a one-polygon `layer`, filled but `leave` bytes;
    the layer's bytes."""
    folder.mkdir()
    mount_tmpfs(folder, "size=300k")
    values = {name: {"object": "x", "int32": 1, "float64": 2.5}[d] for name, d in FIELDS.items()}
    OutputLayer(folder / layer, CRS.from_epsg(32633)).append(
        [SavedPolygon(box(500000, 3999900, 500010, 3999910), **values)])
    fill(folder, leave)
    return (folder / layer).read_bytes()


@pytest.fixture(scope="module")
def runs(folder, tmp_path_factory):
    """Every process of this module started at once (each pays for importing torch): three CLIs
    into one project GeoPackage, two ';' names, a read-only folder, a file size limit."""
    base = tmp_path_factory.mktemp("runs")
    project = base / "project" / "file.gpkg"
    project.parent.mkdir()
    project_gpkg(project)
    semicolon = base / "semicolon"
    semicolon.mkdir()
    (semicolon / ".bashrc").write_text("export KEEP=1\n")
    read_only = base / "ro"
    read_only.mkdir()
    if os.geteuid() == 0:  # a read-only mount: chmod does not stop root
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(read_only)], check=True)
    else:
        read_only.chmod(0o555)
    limited = base / "limited" / "kept.geojson"
    limited.parent.mkdir()
    values = {name: {"object": "x", "int32": 1, "float64": 2.5}[d] for name, d in FIELDS.items()}
    OutputLayer(limited, CRS.from_epsg(32633)).append(
        [SavedPolygon(box(500000, 3999900, 500010, 3999910), **values)])
    # GDAL loses a GeoJSON's write error with no byte free, a FlatGeobuf's with one page free
    full = {"full.geojson": 0, "full.fgb": 4096}
    state = {"project": user_tables(project), "limited": limited.read_bytes(),
             **{name: full_disk(base / name.replace(".", "-"), name, leave) for name, leave in full.items()}}
    (base / "upper").mkdir()
    procs = {
        "project": [start(folder, str(project)), start(folder, f"{project}:objects"),
                    start(folder, f"{project}:objects")],
        "semicolon": [start(folder, str(semicolon / f"bashrc;x{ext}")) for ext in (".geojson", ".gpkg")],
        "read_only": [start(folder, str(read_only / "out.gpkg"))],
        "limited": [start(folder, str(limited), limit=len(state["limited"]) + 100)],
        "full": [start(folder, str(base / name.replace(".", "-") / name), None, *SMALL) for name in full],
        "upper": [start(folder, str(base / "upper" / "L.SHP"))],
    }
    done = {name: [(p.communicate(timeout=600), p.returncode) for p in group]
            for name, group in procs.items()}
    yield base, state, done
    for name in full:
        subprocess.run([*([] if os.geteuid() == 0 else ["sudo", "-n"]), "umount", "-l",
                        str(base / name.replace(".", "-"))], check=True)
    if os.geteuid() == 0:
        subprocess.run(["umount", str(read_only)], check=True)
    else:
        read_only.chmod(0o755)


def one_line_error(result) -> str:
    (out, err), code = result
    assert code == 1, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
def test_segment_into_a_project_geopackage_keeps_its_layers(runs):
    base, state, done = runs
    path = base / "project" / "file.gpkg"
    for (_, err), code in done["project"]:
        assert code == 0, err
    assert user_tables(path) == state["project"]
    assert set(dict(pyogrio.list_layers(path))) == {"project", "roads", "layer_styles", "file", "objects"}
    assert pyogrio.read_dataframe(path, layer="file")["group_id"].nunique() == 1
    assert pyogrio.read_dataframe(path, layer="objects")["group_id"].nunique() == 2
    assert os.listdir(path.parent) == ["file.gpkg"]


@pytest.mark.slow
def test_semicolon_in_the_output_name_is_refused_and_nothing_written(runs):
    base, _, done = runs
    for result in done["semicolon"]:
        line = one_line_error(result)
        assert "contains ';'" in line and "choose a name without it" in line, line
    target = base / "semicolon"
    assert os.listdir(target) == [".bashrc"] and (target / ".bashrc").read_text() == "export KEEP=1\n"


@pytest.mark.slow
def test_read_only_output_folder_gives_one_line(runs):
    base, _, done = runs
    line = one_line_error(done["read_only"][0])
    assert f"the output folder '{base / 'ro'}' is read-only" in line, line
    assert os.listdir(base / "ro") == []


@pytest.mark.slow
def test_file_size_limit_gives_one_line_and_the_layer_stays(runs):
    base, state, done = runs
    line = one_line_error(done["limited"][0])
    assert "file size limit (ulimit -f)" in line and "the existing layer is intact" in line, line
    layer = base / "limited" / "kept.geojson"
    assert layer.read_bytes() == state["limited"] and os.listdir(layer.parent) == ["kept.geojson"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["full.geojson", "full.fgb"])
def test_full_disk_gives_one_line_and_the_layer_stays(runs, name):
    base, state, done = runs
    line = one_line_error(done["full"][["full.geojson", "full.fgb"].index(name)])
    assert "the disk is full" in line and "the existing layer is intact" in line, line
    layer = base / name.replace(".", "-") / name
    assert layer.read_bytes() == state[name] and sorted(os.listdir(layer.parent)) == ["filler", name]


@pytest.mark.slow
def test_upper_case_shapefile_extension_is_refused(runs):
    base, _, done = runs
    line = one_line_error(done["upper"][0])
    assert line.endswith(f"use '{base / 'upper' / 'L.shp'}'"), line
    assert os.listdir(base / "upper") == []


def test_specks_are_dropped_unless_min_pixels_is_0(folder, tmp_path):
    """The random model's masks are speckled: by default no part but the largest is under 4 px."""
    from click.testing import CliRunner

    from samscape.cli.main import cli

    counts = {}
    for value in ("0", None):
        out = tmp_path / f"specks-{value}.gpkg"
        args = ["segment", str(folder), "--out", str(out), "--box", "500002,3999880,500120,3999998", "-q"]
        result = CliRunner().invoke(cli, args + (["--min-pixels", value] if value else []))
        assert result.exit_code == 0, result.output
        areas = sorted(pyogrio.read_dataframe(out).geometry.area / 0.25, reverse=True)
        counts[value] = areas
    assert min(counts["0"]) < 4 < len(counts["0"])  # the raw mask has specks
    assert counts[None] == counts["0"][:1] + [a for a in counts["0"][1:] if a >= 4]
