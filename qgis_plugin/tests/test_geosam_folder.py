"""A Geo-SAM v2 feature folder through the dock's Load, as a samscape folder is loaded: real QGIS
(offscreen), the real engine, folders written as geosam 0.1.3 writes them
(`tests/features_geosam/writer.py`, the demo model standing in under the checkpoint name
`demo.pt`) and then moved, so their manifests' absolute paths point where nothing is. A folder of
`sam_b.pt` on an engine without sam-vit-base gets the engine's `missing_model` answer: the
message and the offer to get the model. A folder of a checkpoint samscape does not know
(`my_finetuned.pt`) loads with the model chosen for it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import start_engine, wait_until
from qgis.core import QgsGeometry, QgsPointXY, QgsVectorLayer
from test_dock import click, load, settle, truth_objects
from test_processing import project_python

from samscape_qgis.engine import command_line
from samscape_qgis.session import missing_model_line

REPO = Path(__file__).resolve().parents[2]
WRITE = """
import json, shutil, sys
from pathlib import Path
import geopandas as gpd
import rasterio
from shapely.geometry import box
from samscape.demo import generate_scene
sys.path.insert(0, sys.argv[1])
from features_geosam.writer import write_geosam_folder
root = Path(sys.argv[2])
raster, truth = generate_scene(0, 512, 512).write(root / "scene")
written = write_geosam_folder(raster, root / "encoded-on-a-server" / "scene", "demo",
                              "/opt/Geo-SAM/models/demo.pt")
# sam_b.pt's grid: the 512 px raster is one chip of ViT-B's 1024 px input
shutil.copytree(written, root / "sam_b" / "scene")
manifest = root / "sam_b" / "scene" / "manifest.parquet"
frame = gpd.read_parquet(manifest).iloc[:1].copy()
with rasterio.open(raster) as ds:
    frame["transform"] = json.dumps(list(ds.transform)[:6])
    frame["shape"] = json.dumps([ds.height, ds.width])
    frame["geometry"] = [box(*ds.bounds)]
    frame["chip_center_x"] = (ds.bounds.left + ds.bounds.right) / 2
    frame["chip_center_y"] = (ds.bounds.bottom + ds.bounds.top) / 2
frame["checkpoint_path"] = "/opt/Geo-SAM/models/sam_b.pt"
frame["dst_shape"] = "[1024, 1024]"
frame.to_parquet(manifest)
# a fine-tuned or renamed checkpoint: a name samscape does not know
write_geosam_folder(raster, root / "renamed" / "scene", "demo", "/opt/Geo-SAM/models/my_finetuned.pt")
(root / "moved").mkdir()
shutil.move(written, root / "moved" / "scene")
print(json.dumps({"raster": str(raster), "truth": str(truth)}))
"""


@pytest.fixture(scope="module")
def demo(root: Path, samscape_command: str) -> dict:
    """The demo scene (512 px, as `samscape demo --size 512` makes it, without its encoding) written
    as a Geo-SAM folder and moved (geosam/moved/scene), and a copy whose manifest names sam_b.pt at
    its 1024 px (geosam/sam_b/scene: its chips are never read)."""
    folder = root / "geosam"
    folder.mkdir()
    run = subprocess.run([project_python(samscape_command), "-c", WRITE, str(REPO / "tests"), str(folder)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return {**json.loads(run.stdout.strip().splitlines()[-1]), "geosam": folder}


@pytest.fixture(scope="module")
def engine(samscape_command: str, root: Path, request: pytest.FixtureRequest):
    """The module's engine on a model store of its own: the bundled demo model only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAMSCAPE_HOME", str(root / "samscape-home"))
        engine = start_engine(samscape_command, [str(root)], request)
    yield engine
    engine.stop(wait=True)


def test_a_geosam_folder_loads_and_segments(dock, demo: dict, samscape_command: str) -> None:
    geosam = demo["geosam"]
    panel = dock.source_panel
    session = dock.segmentation.session
    panel.folder.setFilePath(str(geosam / "sam_b" / "scene"))
    panel.load_button.click()
    settle(dock)
    assert session.source is None
    assert panel.status.text() == missing_model_line("sam-vit-base")
    assert not panel.get_model_button.isHidden()
    assert panel.get_model_button.text() == "Get model sam-vit-base…"

    info = load(dock, str(geosam / "moved" / "scene"))
    assert info["model"] == "demo" and info["raster"] == demo["raster"]
    assert panel.status.text().startswith("Loaded ") and ", model demo, EPSG:32633" in panel.status.text()
    assert panel.model.currentData() == "" and panel.model.currentText() == "demo (as the folder records)"
    assert panel.get_model_button.isHidden()

    building = truth_objects(demo, "building")[0]
    inside = building.poleOfInaccessibility(0.1)[0].asPoint()
    click(dock, inside)
    bands = dock.segmentation.bands
    assert bands.fg.size() == 1 and bands.result.size() >= 1
    result = bands.result.asGeometry()
    assert result.contains(QgsGeometry.fromPointXY(QgsPointXY(inside)))
    # the engine's answer as the CLI gives it on the same folder and point (the demo model, trained
    # on RGB, sees Geo-SAM's B,G,R here: the object is not the building, so no truth is compared)
    cli = str(geosam / "cli.gpkg")
    run = subprocess.run([*command_line(samscape_command), "segment", str(geosam / "moved" / "scene"),
                          "--point", f"{inside.x()},{inside.y()}", "--out", cli, "--quiet"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    layer = QgsVectorLayer(cli, "cli", "ogr")
    expected = QgsGeometry.unaryUnion([f.geometry() for f in layer.getFeatures()])
    assert result.intersection(expected).area() / result.combine(expected).area() > 0.99


def test_a_renamed_checkpoint_loads_with_the_model_chosen(dock, demo: dict) -> None:
    panel = dock.source_panel
    session = dock.segmentation.session
    renamed = str(demo["geosam"] / "renamed" / "scene")
    wait_until(lambda: panel.model.findData("demo") > 0, 20, "the engine's models were not listed")
    assert panel.model.currentData() == ""
    panel.folder.setFilePath(renamed)
    panel.load_button.click()
    settle(dock)
    assert session.source is None
    assert "its checkpoint 'my_finetuned.pt' is not one samscape knows" in panel.status.text()
    assert "open the folder with Model ID" in panel.status.text()

    panel.model.setCurrentIndex(panel.model.findData("demo"))
    try:
        info = load(dock, renamed)
        assert info["model"] == "demo"
        assert panel.status.text().startswith("Loaded ") and ", model demo, " in panel.status.text()
        assert panel.model.currentData() == "demo"
        building = truth_objects(demo, "building")[0]
        panel.zoom_button.click()
        click(dock, building.poleOfInaccessibility(0.1)[0].asPoint())
        assert dock.segmentation.bands.fg.size() == 1 and dock.segmentation.bands.result.size() >= 1
        panel.folder.setFilePath(str(demo["geosam"] / "moved" / "scene"))  # the choice was for the other
        assert panel.model.currentData() == ""
    finally:
        panel.model.setCurrentIndex(0)
