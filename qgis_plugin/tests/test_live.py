"""The Segmentation dock in Live Encoding mode, end to end: a raster layer of the project and the
demo model, opened live on the real engine; the chips a prompt reaches are encoded while a progress
bar shows, and the next prompt on them is answered without encoding."""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

import pytest
from conftest import Recorder, start_engine, wait_until
from qgis.core import (
    QgsCoordinateTransform,
    QgsPointXY,
    QgsProcessingUtils,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QEvent, Qt
from qgis.PyQt.QtWidgets import QProgressBar
from test_dock import UTM, WGS84, click, iou, key, mouse, saved_layer, settle, shoot, to_canvas, truth_objects

from samscape_qgis.dock import SamscapeDock
from samscape_qgis.engine import Engine
from samscape_qgis.live import LIVE


@pytest.fixture(scope="module")
def engine(samscape_command: str, root: Path, request: pytest.FixtureRequest):
    """The engine, started while the demo scene is made, with a SAMSCAPE_HOME of its own: no chip of
    the scene is in its live cache yet, and no model but the built-in ones is in its store."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAMSCAPE_HOME", str(root / "home"))
        roots = [str(root), QgsProcessingUtils.tempFolder()]  # where layers that are no file are exported
        engine = start_engine(samscape_command, roots, request)
        yield engine
        engine.stop(wait=True)


@pytest.fixture
def dock(dock: SamscapeDock) -> SamscapeDock:
    """The dock (conftest's), once the engine's models are listed for live mode."""
    wait_until(lambda: dock.source_panel.live_model.count() > 0, 20, "the engine's models were not listed")
    return dock


def add_scene(demo: dict, path: str = "") -> QgsRasterLayer:
    """The demo scene (or its copy at `path`) as a layer of the project."""
    layer = QgsRasterLayer(path or demo["raster"], "scene")
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


def load_live(dock: SamscapeDock, layer: QgsRasterLayer) -> dict:
    """Choose Live Encoding, the layer and the model `demo`, and Load."""
    panel = dock.source_panel
    panel.mode.setCurrentIndex(panel.mode.findData(LIVE))
    panel.raster_layer.setLayer(layer)
    panel.live_model.setCurrentIndex(panel.live_model.findData("demo"))
    panel.live_load_button.click()
    session = dock.segmentation.session
    try:
        wait_until(lambda: session.source is not None and session.idle, 60)
    except AssertionError:
        raise AssertionError(f"not loaded: {panel.status.text()}") from None
    return session.source


def watch_progress(dock: SamscapeDock, screenshots: Path, name: str) -> list[tuple]:
    """Every state the progress bar is given, with whether it shows then and its text; the window is
    saved as `name` when it first shows."""
    states: list[tuple] = []
    bar = dock.findChild(QProgressBar, "encoding_progress")

    def seen(state) -> None:
        states.append((state, bar.isVisible(), bar.text()))
        if state is not None and not (screenshots / f"live-{name}.png").exists():
            dock.parentWidget().grab().save(str(screenshots / f"live-{name}.png"))

    dock.segmentation.session.progress.changed.connect(seen)
    return states


def engine_encoded(dock: SamscapeDock) -> set[int]:
    """The chips the engine has encoded now (asked directly, not the dock's copy)."""
    session = dock.segmentation.session
    reply = session.client.get(f"/api/sources/{session.source['id']}/chips")
    wait_until(lambda: reply.done, 20)
    return {f["properties"]["id"] for f in reply.data["features"] if f["properties"]["encoded"]}


def test_live_click_progress_save_and_instant_second_click(dock: SamscapeDock, demo: dict,
                                                           screenshots: Path) -> None:
    segmentation, panel = dock.segmentation, dock.source_panel
    session, bands = segmentation.session, segmentation.bands
    layer = add_scene(demo)
    panel.mode.setCurrentIndex(panel.mode.findData(LIVE))
    assert panel.raster_layer.isVisible() and not panel.folder.isVisible()
    assert panel.raster_layer.currentLayer() is layer
    labels = [panel.live_model.itemText(i) for i in range(panel.live_model.count())]
    assert "demo (built-in)" in labels and "sam-vit-base (not downloaded)" in labels
    assert panel.live_model.currentData() == "demo"  # the first installed model

    info = load_live(dock, layer)
    assert info["mode"] == "live" and info["model"] == "demo" and info["encoded"] == 0
    assert panel.status.text() == ("Live: scene.tif, 9 chips (0 encoded), model demo, EPSG:32633; "
                                   "chips are encoded as prompts reach them")
    output = str(Path(demo["raster"]).parent / "samscape_polygons.gpkg")
    assert dock.output_panel.output.filePath() == output == session.session["output"]
    assert not panel.add_raster_button.isVisible()
    panel.zoom_button.click()
    dock.options_panel.boundary.setChecked(True)
    assert (bands.boundary.size(), bands.encoded.size()) == (9, 0)
    assert segmentation.canvas.mapTool() is segmentation.tools["fg"]
    shoot(dock, screenshots, "live-loaded")

    # the first click: the bar shows while its chip is encoded, then hides; the chip is drawn encoded
    states = watch_progress(dock, screenshots, "encoding")
    first = truth_objects(demo, "building")[0]
    inside = first.poleOfInaccessibility(0.1)[0].asPoint()
    click(dock, inside)
    assert states[0] == ((0, 0), True, "encoding chips…"), states  # at once, before the engine counts
    assert states[-1][:2] == (None, False) and not dock.progress.isVisible()
    assert iou(bands.result.asGeometry(), first) >= 0.7
    encoded = engine_encoded(dock)
    assert encoded and bands.encoded.size() == len(encoded) and bands.boundary.size() == 9 - len(encoded)
    assert panel.status.text().startswith(f"Live: scene.tif, 9 chips ({len(encoded)} encoded)")
    shoot(dock, screenshots, "live-result")
    key(dock, Qt.Key.Key_S)
    layer_out = saved_layer(output)
    assert layer_out.featureCount() == 1 and layer_out.crs() == UTM
    assert iou(next(layer_out.getFeatures()).geometry(), first) >= 0.7

    # the same chip again: answered without encoding (no bar, nothing more encoded)
    states.clear()
    click(dock, inside)
    assert states == [] and engine_encoded(dock) == encoded
    assert iou(bands.result.asGeometry(), first) >= 0.7
    key(dock, Qt.Key.Key_C)

    # a box over the whole scene: the polled count of the remaining chips shows on the bar
    segmentation.set_tool("box")
    extent = QgsRectangle(*info["extent"])
    extent.grow(-2.0)
    top_left, bottom_right = (QgsPointXY(extent.xMinimum(), extent.yMaximum()),
                              QgsPointXY(extent.xMaximum(), extent.yMinimum()))
    mouse(dock, QEvent.Type.MouseButtonPress, to_canvas(dock, top_left))
    mouse(dock, QEvent.Type.MouseButtonRelease, to_canvas(dock, bottom_right))
    settle(dock)
    counted = [(state, text) for state, visible, text in states if state and state[1] and visible]
    assert counted, f"no polled count shown: {states}"
    (done, total), text = counted[-1]
    assert 0 < done <= total and text == f"encoding chips {done}/{total}"
    assert engine_encoded(dock) == set(range(9)) and bands.encoded.size() == 9
    assert not dock.progress.isVisible()
    shoot(dock, screenshots, "live-all-encoded")


def test_live_in_a_wgs84_project(dock: SamscapeDock, demo: dict, root: Path, screenshots: Path) -> None:
    QgsProject.instance().setCrs(WGS84)
    canvas = dock.segmentation.canvas
    canvas.setDestinationCrs(WGS84)
    output = str(root / "live-wgs84.gpkg")
    dock.output_panel.output.setFilePath(output)
    copy = root / "wgs84" / "scene-copy.tif"  # a raster of its own: a live cache with no chip yet
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(demo["raster"], copy)
    info = load_live(dock, add_scene(demo, str(copy)))
    session = dock.segmentation.session
    assert info["encoded"] == 0
    assert session.session["crs"] == "EPSG:4326" and session.session["output"] == output
    dock.source_panel.zoom_button.click()
    to_wgs84 = QgsCoordinateTransform(UTM, WGS84, QgsProject.instance())
    assert canvas.extent().contains(to_wgs84.transformBoundingBox(QgsRectangle(*info["extent"])))

    states = watch_progress(dock, screenshots, "wgs84-encoding")
    target = truth_objects(demo, "building")[1]
    click(dock, target.poleOfInaccessibility(0.1)[0].asPoint())
    assert states[0][:2] == ((0, 0), True) and states[-1][:2] == (None, False), states
    assert engine_encoded(dock)
    assert dock.segmentation.bands.result.size() >= 1
    shoot(dock, screenshots, "live-wgs84")
    key(dock, Qt.Key.Key_S)
    saved = saved_layer(output)
    assert saved.featureCount() == 1 and saved.crs() == WGS84
    polygon = next(saved.getFeatures()).geometry()
    polygon.transform(QgsCoordinateTransform(WGS84, UTM, QgsProject.instance()))
    assert iou(polygon, target) >= 0.7


def test_live_on_a_layer_that_is_no_file(dock: SamscapeDock, demo: dict, screenshots: Path) -> None:
    """A layer the engine cannot open (here QGIS's virtual raster; XYZ and WMS alike): what the map
    shows of it is exported to a GeoTIFF, and that is encoded live."""
    formula = urllib.parse.quote('"s@1"')
    virtual = QgsRasterLayer(f"?crs=EPSG:32633&extent=500000,3999744,500256,4000000&width=512&height=512"
                             f"&formula={formula}&s:uri={demo['raster']}&s:provider=gdal", "virtual",
                             "virtualraster")
    assert virtual.isValid()
    QgsProject.instance().addMapLayer(virtual)
    canvas = dock.segmentation.canvas
    canvas.setExtent(QgsRectangle(500000, 3999744, 500256, 3999872))  # the southern part
    canvas.refresh()
    shown = canvas.extent()
    info = load_live(dock, virtual)
    assert info["name"].startswith("virtual-") and info["name"].endswith(".tif") and info["encoded"] == 0
    exported = QgsRasterLayer(info["path"], "exported")
    assert exported.isValid() and exported.bandCount() == 4 and exported.crs() == UTM
    part = shown.intersect(virtual.extent())
    assert part.height() < 250 and QgsRectangle(*info["extent"]).toString(1) == part.toString(1)
    assert dock.output_panel.output.filePath() == str(Path(info["path"]).parent / "samscape_polygons.gpkg")
    target = next(g for g in truth_objects(demo, "building") if g.boundingBox().yMaximum() < 3999860)
    click(dock, target.poleOfInaccessibility(0.1)[0].asPoint())
    assert dock.segmentation.bands.result.size() >= 1 and engine_encoded(dock)
    shoot(dock, screenshots, "live-virtual")


def test_live_messages_for_no_layer_and_a_missing_model(dock: SamscapeDock, demo: dict,
                                                        screenshots: Path) -> None:
    panel, session = dock.source_panel, dock.segmentation.session
    panel.mode.setCurrentIndex(panel.mode.findData(LIVE))
    panel.live_load_button.click()
    assert panel.status.text() == ("add a raster layer to the project (Layer ▸ Add Layer), choose it, "
                                   "then Load")
    assert session.source is None and session.idle

    missing = next(m["id"] for m in panel.models if m["status"] == "not downloaded")
    scene = add_scene(demo)
    panel.raster_layer.setLayer(scene)
    dock.segmentation.canvas.setExtent(scene.extent())
    panel.live_model.setCurrentIndex(panel.live_model.findData(missing))
    line = (f"model {missing} is not downloaded; run 'samscape models download {missing}' (or import it), "
            f"or choose an installed model")
    assert panel.status.text() == line
    panel.live_load_button.click()
    assert panel.status.text() == line and session.source is None and session.idle
    shoot(dock, screenshots, "live-missing-model")


def test_live_engine_restart_asks_to_load_the_raster_again(dock: SamscapeDock, demo: dict,
                                                           engine: Engine) -> None:
    load_live(dock, add_scene(demo))
    ready = Recorder(engine.ready)
    engine.restart()
    ready.wait(90)
    panel = dock.source_panel
    assert panel.status.text() == "the samscape engine restarted: Load the raster again"
    assert dock.segmentation.canvas.mapTool() is None and not panel.zoom_button.isEnabled()
    wait_until(lambda: panel.live_model.findData("demo") >= 0, 20, "the models were not listed again")
    assert load_live(dock, panel.raster_layer.currentLayer())["mode"] == "live"
