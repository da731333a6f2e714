"""OutputLayer safety: other GeoPackage layers untouched, hostile file names, several processes
saving at once, a save killed mid-way, a Shapefile swap interrupted between renames, a full disk
and a read-only folder. Real files, real processes, real kills."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely
from conftest import fill, mount_tmpfs
from rasterio.crs import CRS
from shapely.geometry import box

from samscape.errors import OutputLayerError
from samscape.vector import FIELDS, OutputLayer, SavedPolygon
from samscape.vector.layerfiles import journal_path

UTM = CRS.from_epsg(32633)
FORMATS = [".gpkg", ".geojson", ".fgb", ".shp", ".parquet"]
SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg"}
VALUES = {"object": "x", "int32": 1, "float64": 2.5}


def rows(group_id: str, n: int = 2, x0: float = 500000.0) -> list[SavedPolygon]:
    """`n` boxes of one save; every field but the group id and geometry a fixed value."""
    out = []
    for i in range(n):
        values = {name: VALUES[dtype] for name, dtype in FIELDS.items()}
        values.update(group_id=group_id, group_size=n)
        out.append(SavedPolygon(box(x0 + 20 * i, 3999000.0, x0 + 20 * i + 7.5, 3999012.5), **values))
    return out


def groups_in(layer: OutputLayer) -> list[str]:
    return sorted({r.group_id for r in layer.read()})


def layer_files(path: Path) -> set[str]:
    if path.suffix == ".shp":
        return {path.stem + s for s in SHAPEFILE_PARTS if path.with_suffix(s).exists()}
    return {path.name}


# ---------------------------------------------------------------------------------------------
# GeoPackage: a save touches only its own layer


def table_rows(path: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted (virtual rtree tables through their shadow tables)."""
    with sqlite3.connect(path) as db:
        names = [n for (n,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
        return {n: sorted(db.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}


def project_gpkg(path: Path) -> None:
    """A user's project: layers `project` and `roads`, and a QGIS-like `layer_styles` table."""
    wkb = shapely.to_wkb([box(500000, 3999000, 500100, 3999100), box(500200, 3999000, 500300, 3999100)])
    pyogrio.raw.write(path, wkb, [np.array(["a", "b"], object)], ["name"], layer="project",
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:32633")
    line = shapely.to_wkb([shapely.LineString([(500000, 3999000), (500500, 3999500)])])
    pyogrio.raw.write(path, line, [np.array([3], "int32")], ["lanes"], layer="roads", driver="GPKG",
                      geometry_type="LineString", crs="EPSG:32633", append=False)
    pyogrio.raw.write(path, None, [np.array(["project"], object), np.array(["<qml/>"], object)],
                      ["f_table_name", "styleQML"], layer="layer_styles", driver="GPKG")
    assert set(pyogrio.list_layers(path)[:, 0]) == {"project", "roads", "layer_styles"}


OWN = ("project", "roads", "layer_styles", "rtree_project_geom", "rtree_roads_geom")


def assert_others_untouched(before: dict, after: dict, ours: set[str]) -> None:
    """Every table of the user's layers is as it was; in the metadata tables every row that does
    not name one of `ours` is as it was (new CRSs may be added to gpkg_spatial_ref_sys)."""
    def others(content: list[tuple]) -> set[tuple]:
        return {row for row in content if not any(v in ours for v in row if isinstance(v, str))}

    for name, content in before.items():
        if any(name == o or name.startswith(f"rtree_{o}_") for o in ours):
            continue
        if name.startswith(OWN):
            assert after[name] == content, name
        elif name == "gpkg_spatial_ref_sys":
            assert set(content) <= set(after[name])
        else:
            assert others(content) == others(after[name]), name


def test_gpkg_save_keeps_other_layers_and_tables(tmp_path):
    path = tmp_path / "file.gpkg"
    project_gpkg(path)
    before = table_rows(path)

    default = OutputLayer(path, UTM)
    assert default.layer_name == "file"
    default.append(rows("A"))
    named = OutputLayer(f"{path}:objects", UTM)
    assert named.path == path and named.layer_name == "objects"
    named.append(rows("B"))
    named.append(rows("C", 3))
    assert named.remove_group("B") == 2

    after = table_rows(path)
    assert_others_untouched(before, after, {"file", "objects"})
    assert set(pyogrio.list_layers(path)[:, 0]) == {"project", "roads", "layer_styles", "file", "objects"}
    assert groups_in(default) == ["A"] and groups_in(named) == ["C"]
    assert groups_in(OutputLayer(f"{path}:objects", UTM)) == ["C"]
    # GDAL reads the file back; the feature counts and the spatial index follow the delete.
    frame = pyogrio.read_dataframe(path, layer="objects")
    assert list(frame["group_id"]) == ["C"] * 3
    assert pyogrio.read_info(path, layer="objects")["features"] == 3
    assert len(pyogrio.read_dataframe(path, layer="objects", bbox=(499990, 3998990, 500010, 3999020))) == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM rtree_objects_geom").fetchone() == (3,)
        assert db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name='objects'"
                          ).fetchone() == (3,)
    assert sorted(os.listdir(tmp_path)) == ["file.gpkg"]


def test_gpkg_layers_added_beside_samscape_layer_survive_saves(tmp_path):
    """The usual QGIS workflow: samscape's layer first, then the user adds layers and styles."""
    path = tmp_path / "work.gpkg"
    layer = OutputLayer(path, UTM)
    layer.append(rows("A"))
    wkb = shapely.to_wkb([shapely.LineString([(500000, 3999000), (500500, 3999500)])])
    pyogrio.raw.write(path, wkb, [np.array([3], "int32")], ["lanes"], layer="roads", driver="GPKG",
                      geometry_type="LineString", crs="EPSG:32633")
    pyogrio.raw.write(path, None, [np.array(["work"], object)], ["f_table_name"],
                      layer="layer_styles", driver="GPKG")
    before = table_rows(path)
    layer.append(rows("B"))
    layer.remove_group("A")
    assert_others_untouched(before, table_rows(path), {"work"})
    assert set(pyogrio.list_layers(path)[:, 0]) == {"work", "roads", "layer_styles"}
    assert groups_in(layer) == ["B"]


def test_gpkg_layer_name_syntax(tmp_path):
    path = tmp_path / "p.gpkg"
    assert OutputLayer(f"{path}:my layer", UTM).layer_name == "my layer"
    for bad, needle in [(f"{tmp_path / 'p.geojson'}:x", "only a GeoPackage"),
                        (f"{path}:gpkg_contents", "reserved"), (f"{path}:a;b", "';'")]:
        with pytest.raises(OutputLayerError, match=needle):
            OutputLayer(bad, UTM)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# File names: saved exactly where named, or refused; never another file written

NAMES = ["bashrc;x", "a\tb", "a\rb", "a\nb", "a b", "it's", 'say "hi"', "été ✓", "a#b", "a?b",
         "a*b", "a[1]", "{x}", "a,b", "a|b", "$HOME", "100%", "-dash", " lead", "a:b"]


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("name", NAMES, ids=[repr(n) for n in NAMES])
def test_output_name_is_saved_exactly_or_refused(tmp_path, name, ext):
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / ".bashrc").write_text("export KEEP=1\n")
    path = folder / f"{name}{ext}"
    try:
        layer = OutputLayer(path, UTM)
        layer.append(rows("A"))
        layer.append(rows("B"))
        layer.remove_group("A")
    except OutputLayerError as exc:
        assert "\n" not in str(exc) and (";" in name or any(ord(c) < 32 for c in name))
        assert sorted(os.listdir(folder)) == [".bashrc"]
    else:
        assert ";" not in name and all(ord(c) >= 32 for c in name)
        assert groups_in(OutputLayer(path, UTM)) == ["B"]
        assert set(os.listdir(folder)) == {".bashrc"} | layer_files(path)
    assert (folder / ".bashrc").read_text() == "export KEEP=1\n"


# ---------------------------------------------------------------------------------------------
# Several processes saving into one layer

SAVER = textwrap.dedent("""
    import sys
    from rasterio.crs import CRS
    from shapely.geometry import box
    from samscape.vector import FIELDS, OutputLayer, SavedPolygon
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    values = {name: {"object": "x", "int32": 1, "float64": 2.5}[d] for name, d in FIELDS.items()}
    layer = OutputLayer(path, CRS.from_epsg(32633))
    for i in range(n):
        values.update(group_id=f"{tag}{i:03d}", group_size=1)
        layer.append([SavedPolygon(box(500000 + i, 3999000, 500001 + i, 3999001), **values)])
""")


@pytest.mark.parametrize("ext", FORMATS)
def test_two_processes_saving_to_one_layer_lose_nothing(tmp_path, ext):
    path = tmp_path / f"shared{ext}"
    OutputLayer(path, UTM).append(rows("FIRST", 1))
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(path), tag, "40"],
                              stderr=subprocess.PIPE, text=True) for tag in ("P", "Q")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    groups = groups_in(OutputLayer(path, UTM))
    assert len(groups) == 81
    assert set(os.listdir(tmp_path)) == layer_files(path)


# ---------------------------------------------------------------------------------------------
# A save killed mid-way leaves nothing behind once the layer is opened again


@pytest.mark.parametrize("ext", [".geojson", ".shp", ".parquet"])
def test_leftovers_of_a_killed_save_are_removed(tmp_path, ext):
    path = tmp_path / f"big{ext}"
    layer = OutputLayer(path, UTM)
    layer.append([r for g in range(300) for r in rows(f"G{g:04d}", 10, 500000.0 + g)])
    before = {name: (tmp_path / name).read_bytes() for name in layer_files(path)}
    (tmp_path / "notes.txt").write_text("mine")
    proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path), "K", "1000"])
    deadline = time.monotonic() + 120
    while not [n for n in os.listdir(tmp_path) if n.startswith(".")]:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")]  # the kill left a temporary

    reopened = OutputLayer(path, UTM)
    assert set(os.listdir(tmp_path)) == layer_files(path) | {"notes.txt"}
    saved = reopened.read()  # the layer is whole: the old rows, then whole saves of the killed one
    assert len(saved) >= 3000 and len(saved) == 3000 + len([r for r in saved if r.group_id[0] == "K"])
    if not [r for r in saved if r.group_id[0] == "K"]:
        assert {name: (tmp_path / name).read_bytes() for name in layer_files(path)} == before


# ---------------------------------------------------------------------------------------------
# A Shapefile swap killed between two renames: the next open finishes it or rolls it back

CRASHER = textwrap.dedent("""
    import os, signal, sys
    from rasterio.crs import CRS
    from samscape.vector import OutputLayer
    path, after = sys.argv[1], int(sys.argv[2])
    layer = OutputLayer(path, CRS.from_epsg(32633))
    real, calls = os.replace, []
    def replace(src, dst, **kwargs):
        if len(calls) == after:
            os.kill(os.getpid(), signal.SIGKILL)
        calls.append(1)
        return real(src, dst, **kwargs)
    os.replace = replace
    layer.remove_group("B")
""")


@pytest.mark.parametrize("after", range(7))
def test_shapefile_swap_killed_between_renames_is_repaired(tmp_path, after):
    path = tmp_path / "parts.shp"
    layer = OutputLayer(path, UTM)
    layer.append(rows("A", 3))
    layer.append(rows("B", 2, x0=600000.0))
    proc = subprocess.run([sys.executable, "-c", CRASHER, str(path), str(after)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr

    saved = OutputLayer(path, UTM).read()  # repairs
    assert set(os.listdir(tmp_path)) == layer_files(path)
    groups = sorted({r.group_id for r in saved})
    assert groups in (["A"], ["A", "B"])
    for row in saved:  # each geometry is paired with its own attributes
        assert (row.geometry.bounds[0] >= 600000.0) == (row.group_id == "B")
    info = pyogrio.read_info(path)
    assert info["features"] == len(saved) == (3 if groups == ["A"] else 5)


# ---------------------------------------------------------------------------------------------
# A full disk, a read-only folder

FILLER = textwrap.dedent("""
    import resource, signal, sys
    from rasterio.crs import CRS
    from shapely.geometry import box
    from samscape.errors import OutputLayerError
    from samscape.vector import FIELDS, OutputLayer, SavedPolygon
    path, limit = sys.argv[1], int(sys.argv[2])
    values = {name: {"object": "x" * 50, "int32": 1, "float64": 2.5}[d] for name, d in FIELDS.items()}
    values.update(group_id="BIG", group_size=2000)
    layer = OutputLayer(path, CRS.from_epsg(32633))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        layer.append([SavedPolygon(box(500000 + i, 3999000, 500001 + i, 3999001), **values)
                      for i in range(2000)])
    except OutputLayerError as exc:
        print(str(exc))
        sys.exit(3)
""")


@pytest.mark.parametrize("ext", FORMATS)
def test_file_size_limit_leaves_the_layer_intact(tmp_path, ext):
    path = tmp_path / f"full{ext}"
    OutputLayer(path, UTM).append(rows("A", 3))
    before = {name: (tmp_path / name).read_bytes() for name in layer_files(path)}
    rows_before = table_rows(path) if ext == ".gpkg" else None
    limit = max(len(b) for b in before.values()) + 512
    proc = subprocess.run([sys.executable, "-c", FILLER, str(path), str(limit)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    message = proc.stdout.strip()
    assert "\n" not in message and "file size limit (ulimit -f)" in message, message
    assert message.endswith("the existing layer is intact: raise the limit and save again"), message
    if ext == ".gpkg":  # SQLite's change counter moves: compare what the file holds
        assert table_rows(path) == rows_before
    else:
        assert {name: (tmp_path / name).read_bytes() for name in layer_files(path)} == before
    assert set(os.listdir(tmp_path)) == layer_files(path)
    assert groups_in(OutputLayer(path, UTM)) == ["A"]


@pytest.fixture
def full_folder(tmp_path):
    """A folder on a real 256 KiB tmpfs, filled to the last byte by `fill(folder)`."""
    folder = tmp_path / "small"
    folder.mkdir()
    unmount = mount_tmpfs(folder, "size=256k")
    try:
        yield folder
    finally:  # lazily (umount -l): a failed GeoPackage or Parquet write may leave a handle to collect
        unmount()


@pytest.mark.parametrize("leave", [0, 4096])
@pytest.mark.parametrize("ext", FORMATS)
def test_full_disk_never_loses_the_layer(full_folder, ext, leave):
    """A save on a (nearly) full disk either lands whole or is refused in one line with the layer
    as it was. GDAL loses a GeoJSON's or FlatGeobuf's write error at close (with no byte free and
    with one page free): the temporary is read back before it replaces the layer."""
    path = full_folder / f"full{ext}"
    OutputLayer(path, UTM).append(rows("A", 1))
    before = {name: (full_folder / name).read_bytes() for name in layer_files(path)}
    rows_before = table_rows(path) if ext == ".gpkg" else None
    fill(full_folder, leave)
    try:
        OutputLayer(path, UTM).append(rows("B", 1))
    except OutputLayerError as exc:
        message = str(exc)
        assert "\n" not in message and "the disk is full" in message, message
        assert "the existing layer is intact: free some space and save again" in message, message
        if ext == ".gpkg":  # SQLite's change counter moves: compare what the file holds
            assert table_rows(path) == rows_before
        else:
            assert {name: (full_folder / name).read_bytes() for name in layer_files(path)} == before
        expected = ["A"]
    else:
        assert leave, "a save with no byte free cannot have landed"
        expected = ["A", "B"]
    assert set(os.listdir(full_folder)) == layer_files(path) | {"filler"}
    (full_folder / "filler").unlink()
    assert groups_in(OutputLayer(path, UTM)) == expected


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder no one may write in: a read-only mount for root (whom chmod does not stop),
    mode 555 for anyone else."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)], check=True)
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@pytest.mark.parametrize("ext", FORMATS)
def test_read_only_folder_is_refused_in_one_line(read_only_folder, ext):
    with pytest.raises(OutputLayerError, match="read-only") as caught:
        OutputLayer(read_only_folder / f"out{ext}", UTM).append(rows("A"))
    assert "\n" not in str(caught.value) and str(read_only_folder) in str(caught.value)
    assert list(read_only_folder.iterdir()) == []


def test_a_forged_journal_moves_nothing_outside_the_layer(tmp_path):
    """A journal names only suffixes: the files it moves are always this layer's own temporaries
    onto this layer's own parts, whatever a forged one says."""
    path = tmp_path / "j.shp"
    layer = OutputLayer(path, UTM)
    layer.append(rows("A"))
    (tmp_path / "victim.txt").write_text("keep")
    for forged in ([["../victim.txt", "j.shp"]], {"token": "../../x", "suffixes": [".shp"]},
                   {"token": "0123456789ab", "suffixes": ["/../victim.txt"]}, "not json"):
        layer.append(rows("B"))
        before = {name: (tmp_path / name).read_bytes() for name in layer_files(path)}
        assert not list(tmp_path.glob(".samscape-*"))  # nothing is left between saves
        journal_path(path).write_text(forged if isinstance(forged, str) else json.dumps(forged))
        assert groups_in(OutputLayer(path, UTM)) == ["A", "B"]
        assert {name: (tmp_path / name).read_bytes() for name in layer_files(path)} == before
        assert sorted(os.listdir(tmp_path)) == sorted(layer_files(path) | {"victim.txt"})
        assert (tmp_path / "victim.txt").read_text() == "keep"
        layer.remove_group("B")


def test_a_layer_of_an_older_samscape_is_left_untouched(tmp_path):
    """Layers written before area_m2 have `area` in map units: refused, said so, not changed."""
    path = tmp_path / "old.gpkg"
    names = [n if n != "area_m2" else "area" for n in FIELDS]
    values = [np.array([VALUES[d]], object if d == "object" else d) for d in FIELDS.values()]
    pyogrio.raw.write(path, shapely.to_wkb([box(500000, 3999000, 500010, 3999010)]), values, names,
                      layer="old", driver="GPKG", geometry_type="Polygon", crs="EPSG:32633")
    before = path.read_bytes()
    with pytest.raises(OutputLayerError, match="written by an older samscape .*'area_m2'"):
        OutputLayer(path, UTM)
    assert path.read_bytes() == before


@pytest.mark.parametrize("ext", [".SHP", ".Shp"])
def test_an_upper_case_shapefile_extension_is_refused(tmp_path, ext):
    """GDAL writes a Shapefile's parts in lower case whatever the name: 'L.SHP' would never be
    found again and the next save would replace the first one."""
    with pytest.raises(OutputLayerError, match=r"use '.*/L\.shp'$") as caught:
        OutputLayer(tmp_path / f"L{ext}", UTM)
    assert "\n" not in str(caught.value)
    with pytest.raises(OutputLayerError, match=r"use '.*/L\.shp'$"):
        OutputLayer.crs_of(tmp_path / f"L{ext}")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("ext", [".GPKG", ".GEOJSON", ".FGB", ".PARQUET"])
def test_other_upper_case_extensions_keep_every_save(tmp_path, ext):
    path = tmp_path / f"L{ext}"
    OutputLayer(path, UTM).append(rows("A"))
    OutputLayer(path, UTM).append(rows("B"))
    assert groups_in(OutputLayer(path, UTM)) == ["A", "B"]
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.parametrize("ext", [".geojson", ".gpkg", ".fgb"])
def test_a_link_to_a_layer_saves_into_the_layer_and_stays_a_link(tmp_path, ext):
    real = tmp_path / "data" / f"real{ext}"
    real.parent.mkdir()
    OutputLayer(real, UTM).append(rows("A"))
    link = tmp_path / f"link{ext}"
    link.symlink_to(real)
    OutputLayer(link, UTM).append(rows("B"))
    assert link.is_symlink() and link.resolve() == real
    assert groups_in(OutputLayer(real, UTM)) == ["A", "B"]
