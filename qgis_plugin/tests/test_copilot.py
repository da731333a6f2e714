"""The Encoder Copilot in QGIS, end to end: the plugin loaded as QGIS loads it (attached to one real
engine for the module), its "Encoder Copilot…" menu entry, the demo scene as a project layer. The
grid drawn as values change is the engine's plan; the exported settings file encodes with
`samscape encode --settings`; Encode now runs Processing's Encode raster and the folder opens in
the Segmentation dock."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import qgis.utils
from conftest import Recorder, wait_until
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.gui import QgsLayerTreeMapCanvasBridge, QgsMapMouseEvent, QgsMapToolPan
from qgis.PyQt.QtCore import QEvent, QPoint, Qt
from qgis.PyQt.QtWidgets import QApplication, QFileDialog

from samscape_qgis.engine import Engine, command_line
from samscape_qgis.settings import EngineSettings

PLUGINS = Path(__file__).resolve().parents[1]
NAME = "samscape_qgis"
UTM = QgsCoordinateReferenceSystem("EPSG:32633")
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")
# The demo scene: 512 px of 0.5 m from (500000, 3999744) to (500256, 4000000); demo model chips
# are 256 px, so 50 % overlap makes 3 × 3 chips, none 2 × 2, and a scale of 2 one chip.
DRAWN = QgsRectangle(500010, 3999754, 500150, 3999894)  # 280 px: 2 × 2 chips at 50 %


@pytest.fixture
def plugin(iface, engine: Engine, demo: dict, samscape_command: str):
    """The plugin loaded by QGIS, attached to the module's engine, with the demo raster in a UTM
    project shown on the canvas, and the Copilot opened from its menu entry (its first plan drawn)."""
    from samscape_qgis import settings

    settings.save(EngineSettings(command=samscape_command, url=engine.url, token=engine.token))
    project = QgsProject.instance()
    canvas = iface.mapCanvas()
    bridge = QgsLayerTreeMapCanvasBridge(project.layerTreeRoot(), canvas)
    project.setCrs(UTM)
    canvas.setDestinationCrs(UTM)
    layer = QgsRasterLayer(demo["raster"], "scene")
    assert layer.isValid()
    project.addMapLayer(layer)
    canvas.setExtent(layer.extent().buffered(30))
    qgis.utils.iface = iface
    if str(PLUGINS) not in qgis.utils.plugin_paths:
        qgis.utils.plugin_paths.append(str(PLUGINS))
    qgis.utils.updateAvailablePlugins()
    assert qgis.utils.loadPlugin(NAME) and qgis.utils.startPlugin(NAME)
    loaded = qgis.utils.plugins[NAME]
    (action,) = [a for a in iface.menus["samscape"].actions() if a.text() == "Encoder Copilot…"]
    action.trigger()
    copilot = loaded.copilot
    assert copilot is not None and copilot.isVisible()
    copilot.resize(380, copilot.height())
    settle(copilot)
    yield loaded
    if NAME in qgis.utils.active_plugins:
        qgis.utils.unloadPlugin(NAME)
    settings.save(EngineSettings(command=samscape_command))
    project.clear()
    del bridge


def settle(copilot, timeout_s: float = 60) -> dict:
    """The plan of the Copilot's values as they are now, once the engine answered it."""
    wait_until(lambda: copilot.planner.idle and copilot.current_plan() is not None, timeout_s,
               f"no plan: {copilot.panel.summary.text()}")
    return copilot.plan


def shoot(plugin, screenshots: Path, name: str) -> None:
    canvas = plugin.iface.mapCanvas()
    drawn = Recorder(canvas.mapCanvasRefreshed)
    canvas.refreshAllLayers()
    drawn.wait(20)
    plugin.iface.mainWindow().grab().save(str(screenshots / f"copilot-{name}.png"))


def drag(canvas, start: QgsPointXY, end: QgsPointXY, crs: QgsCoordinateReferenceSystem = UTM) -> None:
    """A left-button drag from `start` to `end` (in `crs`) into the canvas's map tool."""
    to_canvas = QgsCoordinateTransform(crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())

    def event(kind: QEvent.Type, point: QgsPointXY) -> QgsMapMouseEvent:
        pixel = canvas.getCoordinateTransform().transform(to_canvas.transform(point))
        return QgsMapMouseEvent(canvas, kind, QPoint(round(pixel.x()), round(pixel.y())),
                                Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)

    tool = canvas.mapTool()
    tool.canvasPressEvent(event(QEvent.Type.MouseButtonPress, start))
    tool.canvasMoveEvent(event(QEvent.Type.MouseMove, QgsPointXY((start.x() + end.x()) / 2, end.y())))
    tool.canvasReleaseEvent(event(QEvent.Type.MouseButtonRelease, end))


def grid_shapes(copilot) -> list[QgsGeometry]:
    """The chips drawn, in the canvas's CRS."""
    return copilot.bands.grid.asGeometry().asGeometryCollection()


def samscape_info(command: str, folder: Path) -> dict:
    done = subprocess.run([*command_line(command), "info", str(folder), "--json", "--validate"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_grid_is_the_engines_plan_and_follows_overlap_and_scale(plugin, demo: dict,
                                                                     screenshots: Path) -> None:
    copilot = plugin.copilot
    panel = copilot.panel
    plan = copilot.plan
    assert panel.layer.currentLayer().source() == demo["raster"]
    assert panel.model.currentData() == "demo" and panel.chosen_bands() == [1, 2, 3]
    assert panel.output.filePath() == str(Path(demo["raster"]).with_name("scene-features"))
    assert (plan["chips"], plan["chip_size"], plan["stride"], plan["crs"]) == (9, 256, 128, "EPSG:32633")
    assert copilot.bands.grid.size() == plan["chips"] == len(plan["grid"]["features"])
    assert panel.summary.text().startswith("9 chips of 256 px, stride 128 px, range ")
    assert panel.export_button.isEnabled() and panel.encode_button.isEnabled()
    shoot(plugin, screenshots, "grid")

    # values typed in a row: one request, for the last of them
    sent = copilot.planner.requests
    for overlap in (40, 30, 20, 10, 0):
        panel.overlap.setValue(overlap)
    assert copilot.current_plan() is None and not panel.encode_button.isEnabled()
    plan = settle(copilot)
    assert copilot.planner.requests == sent + 1
    assert (plan["chips"], plan["stride"]) == (4, 256) and copilot.bands.grid.size() == 4

    panel.scale.setValue(2.0)
    plan = settle(copilot)
    assert plan["chips"] == copilot.bands.grid.size() == 1 and plan["settings"]["resolution"] == 1.0
    assert panel.summary.text().startswith("1 chip of 256 px, stride 256 px")
    (chip,) = grid_shapes(copilot)
    assert chip.boundingBox() == QgsRectangle(500000, 3999744, 500256, 4000000)
    shoot(plugin, screenshots, "scale-2")

    # past 5000 chips the engine leaves the grid out: the count and why nothing is drawn
    panel.scale.setValue(0.1)
    panel.overlap.setValue(90)
    plan = settle(copilot)
    assert plan["chips"] > 5000 and plan["grid"] is None and copilot.bands.grid.size() == 0
    assert panel.summary.text().startswith(f"{plan['chips']} chips of 256 px, stride 26 px")
    assert panel.summary.text().endswith("too many chips to draw: the grid is not shown (raise the scale "
                                         "or lower the overlap)")
    shoot(plugin, screenshots, "too-many")

    # an answer to values that changed meanwhile is dropped: the latest values are planned next
    sent = copilot.planner.requests
    planned = Recorder(copilot.planner.planned)
    panel.scale.setValue(1.0)
    copilot.replan(now=True)
    panel.overlap.setValue(50)
    plan = settle(copilot)
    assert copilot.planner.requests == sent + 2 and [body["overlap"] for body, _ in planned.calls] == [50]
    assert plan["chips"] == copilot.bands.grid.size() == 9


def test_a_drawn_or_canvas_extent_limits_the_grid(plugin, screenshots: Path) -> None:
    copilot = plugin.copilot
    panel, canvas = copilot.panel, plugin.iface.mapCanvas()
    pan = QgsMapToolPan(canvas)
    canvas.setMapTool(pan)
    panel.extent_buttons["drawn"].click()
    assert canvas.mapTool() is copilot.tool
    assert panel.summary.text() == "drag the extent on the map"
    top_left, bottom_right = (QgsPointXY(DRAWN.xMinimum(), DRAWN.yMaximum()),
                              QgsPointXY(DRAWN.xMaximum(), DRAWN.yMinimum()))
    drag(canvas, top_left, bottom_right)
    assert canvas.mapTool() is pan and panel.extent_kind() == "drawn"
    plan = settle(copilot)
    assert plan["chips"] == copilot.bands.grid.size() == 4
    assert plan["settings"]["extent"].endswith("@EPSG:32633")
    grown = QgsGeometry.fromRect(DRAWN.buffered(1.0))
    assert all(grown.contains(chip) for chip in grid_shapes(copilot))
    assert copilot.bands.extent.size() == 1
    shoot(plugin, screenshots, "drawn")

    # drawing abandoned for another tool: the drawn extent stays
    panel.extent_buttons["drawn"].click()
    canvas.setMapTool(pan)
    assert panel.extent_kind() == "drawn" and copilot.extent is not None
    assert panel.summary.text().startswith("4 chips of 256 px")

    # the canvas's extent, in another CRS than the raster's: the engine transforms it
    canvas.setDestinationCrs(WGS84)
    canvas.setExtent(QgsCoordinateTransform(UTM, WGS84, QgsProject.instance()).transformBoundingBox(DRAWN))
    panel.extent_buttons["canvas"].click()
    plan = settle(copilot)
    assert plan["settings"]["extent"].endswith("@EPSG:4326") and plan["crs"] == "EPSG:32633"
    assert 4 <= plan["chips"] == copilot.bands.grid.size() < 9
    shoot(plugin, screenshots, "canvas-wgs84")

    panel.extent_buttons["layer"].click()
    plan = settle(copilot)
    assert plan["chips"] == copilot.bands.grid.size() == 9 and "extent" not in plan["settings"]
    assert copilot.bands.extent.size() == 0


def test_range_from_statistics_and_the_estimate(plugin) -> None:
    copilot = plugin.copilot
    panel = copilot.panel
    assert copilot.plan["estimate"] is None and "percentiles" in copilot.plan["settings"]
    statistics = copilot.plan["value_range"]
    panel.statistics_button.click()
    wait_until(lambda: panel.low.text() != "", 30, panel.summary.text())
    plan = settle(copilot)
    assert [float(panel.low.text()), float(panel.high.text())] == pytest.approx(statistics, abs=1e-6)
    assert plan["settings"]["range"] == pytest.approx(statistics, abs=1e-6)

    panel.low.setText("10")
    panel.high.setText("200")
    assert settle(copilot)["settings"]["range"] == [10.0, 200.0]

    panel.estimate_button.click()
    plan = settle(copilot, 120)
    estimate = plan["estimate"]
    assert estimate["disk_bytes"] == 9 * estimate["bytes_per_chip"] > 0 and estimate["seconds"] > 0
    assert " · about " in panel.summary.text() and panel.summary.text().endswith("on this machine")
    panel.overlap.setValue(0)
    assert settle(copilot)["estimate"]["disk_bytes"] == 4 * estimate["bytes_per_chip"]  # measured once


def test_exported_settings_encode_with_samscape_encode(plugin, demo: dict, root: Path,
                                                       samscape_command: str, monkeypatch) -> None:
    copilot = plugin.copilot
    panel = copilot.panel
    panel.overlap.setValue(25)
    panel.bands[0].setBand(3)
    panel.bands[1].setBand(2)
    panel.bands[2].setBand(-1)
    plan = settle(copilot)
    assert plan["bands"] == [3, 2, 2] and plan["chips"] == copilot.bands.grid.size()

    path = root / "exported"  # the dialog's answer without .json: it is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(path), ""))
    panel.export_button.click()
    exported = path.with_suffix(".json")
    assert json.loads(exported.read_text()) == plan["settings"]
    assert panel.status.text().startswith("settings written to exported.json")
    panel.copy_button.click()
    assert json.loads(QApplication.clipboard().text()) == plan["settings"]

    folder = root / "from-settings"
    done = subprocess.run([*command_line(samscape_command), "encode", demo["raster"], str(folder),
                           "--settings", str(exported)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    info = samscape_info(samscape_command, folder)
    assert info["chip_count"] == info["grid_chip_count"] == plan["chips"]
    assert info["preprocessing"]["stride"] == plan["stride"] and info["preprocessing"]["bands"] == [3, 2, 2]
    assert info["model"]["id"] == "demo"


def test_encode_now_runs_processing_and_opens_the_folder_in_the_dock(plugin, demo: dict, root: Path,
                                                                     samscape_command: str,
                                                                     screenshots: Path) -> None:
    copilot = plugin.copilot
    panel = copilot.panel
    folder = Path(panel.output.filePath())  # the default: beside the raster, where the dock finds it
    assert folder == Path(demo["raster"]).with_name("scene-features") and not folder.exists()
    busy = root / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    panel.output.setFilePath(str(busy))
    panel.encode_button.click()
    wait_until(lambda: copilot.run is None, 120, panel.status.text())
    assert panel.status.text() == (f"samscape: error: '{busy}' is not empty and is not a feature folder; "
                                   f"choose a new or empty folder")
    assert (busy / "notes.txt").read_text() == "mine" and panel.encode_button.isVisible()

    # Cancel stops the run; the folder keeps what was encoded
    panel.scale.setValue(0.25)  # 2048 px: 15 × 15 chips
    settle(copilot)
    panel.output.setFilePath(str(root / "canceled"))
    progress = Recorder(panel.progress.valueChanged)
    panel.encode_button.click()
    wait_until(lambda: any(value > 0 for (value,) in progress.calls) or copilot.run is None, 120,
               panel.status.text())
    panel.cancel_button.click()
    wait_until(lambda: copilot.run is None, 60, panel.status.text())
    assert panel.status.text().startswith("canceled; the feature folder ") and panel.encode_button.isVisible()
    assert 0 < samscape_info(samscape_command, root / "canceled")["chip_count"] < 225

    panel.scale.setValue(1.0)
    panel.overlap.setValue(0)
    plan = settle(copilot)
    panel.output.setFilePath(str(folder))
    progress = Recorder(panel.progress.valueChanged)
    panel.encode_button.click()
    assert copilot.run is not None and panel.progress.isVisible() and not panel.encode_button.isVisible()
    assert panel.status.text() == "encoding 4 chips into scene-features…"
    shoot(plugin, screenshots, "encoding")
    wait_until(lambda: copilot.run is None, 300, panel.status.text())
    assert panel.status.text() == ("encoded 4 chips (0 were there, 4 in the grid) into scene-features; it "
                                   "opens in the samscape panel")
    assert progress.calls and progress.calls[-1] == (100,)
    info = samscape_info(samscape_command, folder)
    assert info["chip_count"] == plan["chips"] == 4 and info["preprocessing"]["stride"] == plan["stride"]

    dock = plugin.dock
    session = dock.segmentation.session
    wait_until(lambda: session.source is not None and session.idle, 60, dock.source_panel.status.text())
    assert dock.isVisible() and dock.source_panel.folder.filePath() == str(folder)
    assert dock.source_panel.status.text() == "Loaded scene.tif: 4 chips, model demo, EPSG:32633"
    shoot(plugin, screenshots, "encoded")
