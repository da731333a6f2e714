"""The Segmentation dock on a pre-encoded folder, end to end: real QGIS (offscreen), the real
engine started by the plugin's Engine, the demo scene, its features and its ground truth made by
the real `samscape demo`. Prompts go in as QgsMapMouseEvents and key presses into the map tools;
saved polygons are read back from the GeoPackage and compared with the truth."""

from __future__ import annotations

from pathlib import Path

from conftest import Recorder, spin, wait_until
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.gui import QgsMapMouseEvent, QgsMapToolPan
from qgis.PyQt.QtCore import QEvent, QPoint, Qt
from qgis.PyQt.QtTest import QTest
from qgis.PyQt.QtWidgets import QAction

from samscape_qgis import project_layers
from samscape_qgis.dock import SamscapeDock
from samscape_qgis.engine import Engine
from samscape_qgis.preview import PREVIEW_INTERVAL_MS

UTM = QgsCoordinateReferenceSystem("EPSG:32633")
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


def truth_objects(demo: dict, cls: str) -> list[QgsGeometry]:
    """The ground-truth polygons of class `cls` (EPSG:32633), largest first."""
    layer = QgsVectorLayer(demo["truth"], "truth", "ogr")
    assert layer.isValid() and layer.crs() == UTM
    shapes = [f.geometry() for f in layer.getFeatures() if f["class"] == cls]
    return sorted(shapes, key=lambda g: -g.area())


def iou(a: QgsGeometry, b: QgsGeometry) -> float:
    return a.intersection(b).area() / a.combine(b).area()


def to_canvas(dock: SamscapeDock, point: QgsPointXY, crs: QgsCoordinateReferenceSystem = UTM) -> QPoint:
    """The canvas pixel of `point` (in `crs`)."""
    canvas = dock.segmentation.canvas
    there = QgsCoordinateTransform(crs, canvas.mapSettings().destinationCrs(), QgsProject.instance()
                                   ).transform(point)
    pixel = canvas.getCoordinateTransform().transform(there)
    return QPoint(round(pixel.x()), round(pixel.y()))


def mouse(dock: SamscapeDock, kind: QEvent.Type, pixel: QPoint) -> None:
    """A mouse event (left button) into the canvas's map tool."""
    canvas = dock.segmentation.canvas
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    event = QgsMapMouseEvent(canvas, kind, pixel, Qt.MouseButton.LeftButton, buttons,
                             Qt.KeyboardModifier.NoModifier)
    tool = canvas.mapTool()
    {QEvent.Type.MouseButtonPress: tool.canvasPressEvent, QEvent.Type.MouseMove: tool.canvasMoveEvent,
     QEvent.Type.MouseButtonRelease: tool.canvasReleaseEvent}[kind](event)


def click(dock: SamscapeDock, point: QgsPointXY, crs: QgsCoordinateReferenceSystem = UTM) -> None:
    pixel = to_canvas(dock, point, crs)
    mouse(dock, QEvent.Type.MouseButtonPress, pixel)
    mouse(dock, QEvent.Type.MouseButtonRelease, pixel)
    settle(dock)


def key(dock: SamscapeDock, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed on the canvas (through Qt's shortcut handling, as a user's key is)."""
    canvas = dock.segmentation.canvas
    canvas.setFocus()
    QTest.keyClick(canvas, key, modifiers)
    settle(dock)


def settle(dock: SamscapeDock, timeout_s: float = 30) -> None:
    """Wait until the dock's requests are answered."""
    session = dock.segmentation.session
    wait_until(lambda: session.idle, timeout_s, "the engine did not answer")


def load(dock: SamscapeDock, folder: str) -> dict:
    panel = dock.source_panel
    panel.folder.setFilePath(folder)
    panel.load_button.click()
    session = dock.segmentation.session
    wait_until(lambda: session.source is not None and session.idle, 60,
               f"not loaded: {panel.status.text()}")
    return session.source


def saved_layer(path: str) -> QgsVectorLayer:
    layer = project_layers.find_layer(path)
    assert isinstance(layer, QgsVectorLayer) and layer.isValid(), f"{path} is not in the project"
    return layer


def shoot(dock: SamscapeDock, screenshots: Path, name: str, tab: int = 0) -> None:
    """The window (canvas and dock) once the canvas is drawn, showing the dock's tab `tab`."""
    canvas = dock.segmentation.canvas
    drawn = Recorder(canvas.mapCanvasRefreshed)
    canvas.refreshAllLayers()
    drawn.wait(20)
    dock.tabs.setCurrentIndex(tab)
    dock.parentWidget().grab().save(str(screenshots / f"dock-{name}.png"))


def test_load_folder_message_model_raster_zoom_boundary(dock: SamscapeDock, demo: dict,
                                                        screenshots: Path) -> None:
    chips = len(list(Path(demo["folder"], "features").glob("chip_*.pt")))
    panel = dock.source_panel
    missing = str(Path(demo["folder"]).parent / "no-such-folder")
    panel.folder.setFilePath(missing)
    panel.load_button.click()
    wait_until(lambda: dock.segmentation.session.idle, 20)
    assert panel.status.text() == f"no such file or folder '{missing}'; give a feature folder or a raster"
    assert dock.segmentation.session.source is None and not panel.zoom_button.isEnabled()

    info = load(dock, demo["folder"])
    out = dock.output_panel
    assert panel.status.text() == f"Loaded scene.tif: {chips} chips, model demo, EPSG:32633"
    assert panel.model.currentData() == "" and panel.model.currentText() == "demo (as the folder records)"
    output = str(Path(demo["folder"]).parent / "samscape_polygons.gpkg")
    assert out.output.filePath() == output
    assert out.output_status.text() == "saving to samscape_polygons.gpkg (EPSG:32633)"
    assert info["raster"] == demo["raster"] and panel.add_raster_button.isEnabled()

    panel.add_raster_button.click()
    raster = project_layers.find_layer(demo["raster"])
    assert raster is not None and raster.isValid() and raster.crs() == UTM
    assert panel.raster.text() == "added scene.tif to the project"
    panel.add_raster_button.click()
    assert len(QgsProject.instance().mapLayers()) == 1

    panel.zoom_button.click()
    canvas = dock.segmentation.canvas
    extent = QgsRectangle(*info["extent"])
    assert canvas.extent().contains(extent)
    assert canvas.extent().width() < 1.5 * extent.width() or canvas.extent().height() < 1.5 * extent.height()

    dock.options_panel.boundary.setChecked(True)
    assert dock.segmentation.bands.boundary.size() == chips
    assert canvas.mapTool() is dock.segmentation.tools["fg"]
    shoot(dock, screenshots, "loaded")
    dock.options_panel.boundary.setChecked(False)
    assert dock.segmentation.bands.boundary.size() == 0

    # an output path typed in: given to the session when typing ends, as a GeoPackage
    edit = out.output.lineEdit()
    edit.setFocus()
    edit.selectAll()
    typed = str(Path(demo["folder"]).parent / "typed")
    QTest.keyClicks(edit, typed)
    assert dock.segmentation.session.session["output"] == output
    QTest.keyClick(edit, Qt.Key.Key_Return)
    wait_until(lambda: dock.segmentation.session.idle and out.output_status.text().startswith(
        "saving to typed.gpkg"), 20, out.output_status.text())
    assert dock.segmentation.session.session["output"] == typed + ".gpkg" == out.output.filePath()
    edit.selectAll()
    QTest.keyClicks(edit, typed + ".shp")  # Geo-SAM's format: kept as typed
    QTest.keyClick(edit, Qt.Key.Key_Return)
    wait_until(lambda: dock.segmentation.session.idle and out.output_status.text().startswith(
        "saving to typed.shp"), 20, out.output_status.text())
    assert dock.segmentation.session.session["output"] == typed + ".shp" == out.output.filePath()


def test_prompts_save_undo_and_shortcuts(dock: SamscapeDock, demo: dict, screenshots: Path) -> None:
    segmentation = dock.segmentation
    session, bands, tools, canvas = (segmentation.session, segmentation.bands, segmentation.tools,
                                     segmentation.canvas)
    load(dock, demo["folder"])
    dock.source_panel.add_raster_button.click()
    dock.source_panel.zoom_button.click()
    output = session.session["output"]
    snapping = QAction("Toggle snapping", dock.parentWidget())  # QGIS's own S
    snapping.setShortcut("S")
    dock.parentWidget().addAction(snapping)
    toggled = Recorder(snapping.triggered)
    first, second, third = truth_objects(demo, "building")[:3]

    # preview: the mask follows the mouse, one request in flight and only the latest position waits
    inside = first.poleOfInaccessibility(0.1)[0].asPoint()
    for dx in (4, 2, 0):
        mouse(dock, QEvent.Type.MouseMove, to_canvas(dock, QgsPointXY(inside.x() + dx, inside.y())))
    settle(dock)
    assert session.preview.requests == 2 and bands.preview.size() >= 1
    assert iou(bands.preview.asGeometry(), first) >= 0.7
    # a preview answered after a prompt change is dropped (waiting out the 40 ms throttle first,
    # so the move is sent at once and its answer is still on its way when C is pressed)
    spin(PREVIEW_INTERVAL_MS / 1000 + 0.02)
    mouse(dock, QEvent.Type.MouseMove, to_canvas(dock, second.poleOfInaccessibility(0.1)[0].asPoint()))
    key(dock, Qt.Key.Key_C)
    assert session.preview.requests == 3 and bands.preview.size() == 0

    # a foreground point: the result, then S saves it as one group
    click(dock, inside)
    assert bands.fg.size() == 1 and bands.result.size() >= 1 and bands.preview.size() == 0
    status = dock.prompts_panel.status.text()
    assert status.startswith("1 foreground, 0 background · 1 polygon, score "), status
    shoot(dock, screenshots, "result", tab=1)
    key(dock, Qt.Key.Key_S)
    assert toggled.calls == [], "S reached QGIS's snapping toggle"
    layer = saved_layer(output)
    assert layer.featureCount() == 1 and layer.crs() == UTM
    (polygon,) = [f.geometry() for f in layer.getFeatures()]
    assert iou(polygon, first) >= 0.7
    assert bands.fg.size() == 0 and bands.result.size() == 0
    assert dock.prompts_panel.output_status.text() == "saved 1 polygon to samscape_polygons.gpkg"

    # a background point, Z undoes it, C clears
    click(dock, second.poleOfInaccessibility(0.1)[0].asPoint())
    segmentation.set_tool("bg")
    click(dock, QgsPointXY(second.boundingBox().xMaximum() + 3, second.boundingBox().yMaximum() + 3))
    assert (bands.fg.size(), bands.bg.size()) == (1, 1)
    assert dock.prompts_panel.status.text().startswith("1 foreground, 1 background")
    key(dock, Qt.Key.Key_Z)
    assert (bands.fg.size(), bands.bg.size()) == (1, 0) and bands.result.size() >= 1
    key(dock, Qt.Key.Key_C)
    assert (bands.fg.size(), bands.bg.size(), bands.result.size()) == (0, 0, 0)

    # Tab cycles fg → bg → box; a box dragged over the third building
    assert canvas.mapTool() is tools["bg"]
    key(dock, Qt.Key.Key_Tab)
    assert canvas.mapTool() is tools["box"] and segmentation.tool == "box"
    assert dock.prompts_panel.tool_buttons["box"].isChecked()
    box = third.boundingBox()
    box.grow(1.0)
    mouse(dock, QEvent.Type.MouseButtonPress, to_canvas(dock, QgsPointXY(box.xMinimum(), box.yMaximum())))
    mouse(dock, QEvent.Type.MouseMove, to_canvas(dock, QgsPointXY(box.center())))
    assert bands.drag.size() == 1
    mouse(dock, QEvent.Type.MouseButtonRelease, to_canvas(dock, QgsPointXY(box.xMaximum(), box.yMinimum())))
    settle(dock)
    assert bands.drag.size() == 0 and bands.box.size() == 1
    assert iou(bands.result.asGeometry(), third) >= 0.7
    shoot(dock, screenshots, "box", tab=1)
    key(dock, Qt.Key.Key_S)
    assert saved_layer(output).featureCount() == 2

    # Ctrl+Z removes exactly the last group; QGIS's own undo does not see the key
    undo = QAction("Undo", dock.parentWidget())
    undo.setShortcut("Ctrl+Z")
    dock.parentWidget().addAction(undo)
    undone = Recorder(undo.triggered)
    key(dock, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert undone.calls == []
    layer = saved_layer(output)
    assert layer.featureCount() == 1
    assert iou(next(layer.getFeatures()).geometry(), first) >= 0.7
    assert dock.prompts_panel.output_status.text().startswith("removed the last save")

    # P toggles the preview; with another map tool the keys are QGIS's again
    key(dock, Qt.Key.Key_Tab)
    assert canvas.mapTool() is tools["fg"]
    key(dock, Qt.Key.Key_P)
    assert not dock.options_panel.preview.isChecked() and not session.preview.enabled
    key(dock, Qt.Key.Key_P)
    assert session.preview.enabled
    canvas.setMapTool(QgsMapToolPan(canvas))
    assert not any(b.isChecked() for b in dock.prompts_panel.tool_buttons.values())
    key(dock, Qt.Key.Key_S)
    assert len(toggled.calls) == 1 and saved_layer(output).featureCount() == 1


def test_project_in_another_crs(dock: SamscapeDock, demo: dict, root: Path, screenshots: Path) -> None:
    QgsProject.instance().setCrs(WGS84)
    canvas = dock.segmentation.canvas
    canvas.setDestinationCrs(WGS84)
    output = str(root / "wgs84.gpkg")
    dock.output_panel.output.setFilePath(output)
    info = load(dock, demo["folder"])
    session = dock.segmentation.session
    assert session.session["crs"] == "EPSG:4326" and session.session["output"] == output
    dock.source_panel.add_raster_button.click()
    dock.source_panel.zoom_button.click()
    to_wgs84 = QgsCoordinateTransform(UTM, WGS84, QgsProject.instance())
    assert canvas.extent().contains(to_wgs84.transformBoundingBox(QgsRectangle(*info["extent"])))

    target = truth_objects(demo, "building")[1]
    click(dock, target.poleOfInaccessibility(0.1)[0].asPoint())
    assert dock.segmentation.bands.result.size() >= 1
    shoot(dock, screenshots, "wgs84")
    key(dock, Qt.Key.Key_S)
    layer = saved_layer(output)
    assert layer.featureCount() == 1 and layer.crs() == WGS84
    polygon = next(layer.getFeatures()).geometry()
    polygon.transform(QgsCoordinateTransform(WGS84, UTM, QgsProject.instance()))
    assert iou(polygon, target) >= 0.7

    # back to the source's CRS: a new session in it, saving to the same layer
    canvas.setDestinationCrs(UTM)
    settle(dock)
    assert session.session["crs"] == "EPSG:32633" and session.session["output"] == output
    click(dock, target.poleOfInaccessibility(0.1)[0].asPoint())
    key(dock, Qt.Key.Key_S)
    assert saved_layer(output).featureCount() == 2


def test_engine_restart_asks_to_load_again(dock: SamscapeDock, demo: dict, engine: Engine) -> None:
    load(dock, demo["folder"])
    canvas = dock.segmentation.canvas
    assert canvas.mapTool() is dock.segmentation.tools["fg"]
    ready = Recorder(engine.ready)
    engine.restart()
    ready.wait(90)
    assert dock.source_panel.status.text() == "the samscape engine restarted: Load the folder again"
    assert canvas.mapTool() is None and dock.segmentation.bands.fg.size() == 0
    assert not dock.prompts_panel.save_button.isEnabled()
    load(dock, demo["folder"])
    assert dock.source_panel.status.text().startswith("Loaded scene.tif")
