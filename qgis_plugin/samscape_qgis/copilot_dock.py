"""The Encoder Copilot dock, as the browser app's Copilot (`samscape/serve/static/copilot.js`):
the form's values are planned by the engine as they change (chip grid drawn on the map, chip
count, value range, measured disk and time estimates), the plan's settings file is exported, and
Encode now runs Processing's Encode raster with it. The engine plans and estimates; the extent
drawn or shown on the map goes to it in the canvas's CRS and it transforms it."""

from __future__ import annotations

import json
import os

from qgis.core import QgsCoordinateReferenceSystem, QgsRasterLayer, QgsRectangle
from qgis.gui import QgsMapCanvas, QgsMapTool
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QApplication, QDockWidget, QFileDialog, QFrame, QScrollArea, QWidget

from .client import Client, Reply
from .copilot_encode import EncodeRun
from .copilot_map import CopilotBands, ExtentTool
from .copilot_panel import CANVAS, DRAWN, LAYER, CopilotPanel
from .copilot_planner import Planner, describe_plan
from .crs import from_engine, to_engine
from .engine import RUNNING, Engine
from .labels import say

FEATURES_SUFFIX = "-features"


def raster_file(layer: QgsRasterLayer | None) -> tuple[str, str]:
    """(the file samscape reads for `layer`, '') or ('', why not, with the fix)."""
    if layer is None:
        return "", "add a raster layer to the project, then choose it here"
    path = layer.source()
    if layer.providerType() != "gdal" or not os.path.isfile(path):
        return "", (f"layer '{layer.name()}' is not a raster file GDAL reads; export it to a GeoTIFF "
                    f"(Raster ▸ Conversion ▸ Translate) and choose that")
    return path, ""


def default_folder(raster: str) -> str:
    """Where a raster's features go unless the user says otherwise: '<name>-features' beside it."""
    stem = os.path.splitext(os.path.basename(raster))[0]
    return os.path.join(os.path.dirname(raster), stem + FEATURES_SUFFIX)


def without_measure(body: dict | None) -> dict | None:
    return None if body is None else {k: v for k, v in body.items() if k != "measure"}


class CopilotDock(QDockWidget):
    """The Copilot on `canvas` with `engine`. `encoded(folder)` when Encode now wrote a folder.
    `plan` is the engine's latest plan (for the values in `plan_body`)."""

    encoded = pyqtSignal(str)

    def __init__(self, engine: Engine, canvas: QgsMapCanvas, parent: QWidget | None = None) -> None:
        super().__init__("samscape Encoder Copilot", parent)
        self.setObjectName("samscape_copilot")
        self.engine = engine
        self.canvas = canvas
        self.client: Client | None = None
        self.panel = CopilotPanel(self)
        self.planner = Planner(self)
        self.bands = CopilotBands(canvas)
        self.tool = ExtentTool(canvas)
        self.plan: dict | None = None
        self.plan_body: dict | None = None
        self.extent: QgsRectangle | None = None
        self.extent_crs = QgsCoordinateReferenceSystem()
        self.extent_kind = LAYER
        self.run: EncodeRun | None = None
        self._fill_range = False
        self._defaulted = ""
        self._before_drawing: QgsMapTool | None = None
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.panel)
        self.setWidget(scroll)
        self.setMinimumWidth(320)
        self._wire()
        self._layer_changed(self.panel.layer.currentLayer())
        if engine.state == RUNNING:
            self._engine_ready()
        else:
            self._engine_gone()

    def _wire(self) -> None:
        panel, engine = self.panel, self.engine
        engine.ready.connect(self._engine_ready)
        engine.stopped.connect(self._engine_gone)
        engine.failed.connect(self._engine_gone)
        panel.layer.layerChanged.connect(self._layer_changed)
        panel.changed.connect(self.replan)
        panel.statistics_button.clicked.connect(self.range_from_statistics)
        panel.extent_buttons[LAYER].clicked.connect(self.use_layer_extent)
        panel.extent_buttons[CANVAS].clicked.connect(self.use_canvas_extent)
        panel.extent_buttons[DRAWN].clicked.connect(self.draw_extent)
        panel.estimate_button.clicked.connect(self.estimate)
        panel.export_button.clicked.connect(self._export_dialog)
        panel.copy_button.clicked.connect(self._copy)
        panel.encode_button.clicked.connect(self.encode_now)
        panel.cancel_button.clicked.connect(self.cancel)
        self.planner.planned.connect(self._planned)
        self.planner.failed.connect(self._plan_failed)
        self.tool.dragged.connect(lambda rect: self.bands.show_extent(rect, self._canvas_crs()))
        self.tool.drawn.connect(self._extent_drawn)
        self.canvas.mapToolSet.connect(self._map_tool_set)
        self.visibilityChanged.connect(self._visibility_changed)

    def _canvas_crs(self) -> QgsCoordinateReferenceSystem:
        return self.canvas.mapSettings().destinationCrs()

    # the engine

    def _engine_ready(self, *_: object) -> None:
        self.client = self.engine.client()
        self.planner.set_client(self.client)
        if self.client is not None:
            self.client.get("/api/models").then(self._models)

    def _engine_gone(self, *_: object) -> None:
        self.client = None
        self.planner.set_client(None)
        self.replan()

    def _models(self, reply: Reply) -> None:
        if reply.ok:
            self.panel.set_models(reply.data.get("models") or [])
        else:
            say(self.panel.summary, reply.error, "error")

    # the values

    def body(self, measure: bool = False) -> tuple[dict | None, str]:
        """The PlanRequest of the form's values, or (None, what is missing, with the fix)."""
        if self.client is None:
            return None, "the samscape engine is not running; open the samscape panel or Restart engine"
        raster, why = raster_file(self.panel.layer.currentLayer())
        if not raster:
            return None, why
        model = self.panel.model.currentData()
        if model is None:
            return None, "waiting for the engine's list of models…"
        body = {"raster": raster, "model": model, "bands": self.panel.chosen_bands(),
                "value_range": self.panel.value_range(), "resolution_scale": self.panel.scale.value(),
                "overlap": float(self.panel.overlap.value()), "measure": measure}
        if self.extent is not None:
            body["extent"] = [self.extent.xMinimum(), self.extent.yMinimum(),
                              self.extent.xMaximum(), self.extent.yMaximum()]
            body["extent_crs"] = to_engine(self.extent_crs)
        return body, ""

    def replan(self, now: bool = False, measure: bool = False) -> None:
        """Ask the engine for the plan of the form's values (debounced unless `now`)."""
        body, why = self.body(measure)
        if body is None:
            self.planner.ask(None)
            self.plan = self.plan_body = None
            self.bands.show_grid(None, QgsCoordinateReferenceSystem())
            say(self.panel.summary, why, "warn")
        self._update_buttons()
        if body is not None and self.isVisible():
            if self.plan is None:
                say(self.panel.summary, "planning…")
            self.planner.ask(body, now)

    def current_plan(self) -> dict | None:
        """The plan of the form's values as they are now (None while it is being made)."""
        body, _ = self.body()
        if self.plan is None or body is None or without_measure(body) != without_measure(self.plan_body):
            return None
        return self.plan

    def _layer_changed(self, layer: QgsRasterLayer | None) -> None:
        self.panel.set_layer_bands(layer if isinstance(layer, QgsRasterLayer) else None)
        self.extent, self.extent_kind = None, LAYER
        self.panel.set_extent_kind(LAYER)
        self.bands.show_extent(None, self._canvas_crs())
        raster, _ = raster_file(layer)
        folder = self.panel.output.filePath().strip()
        if raster and (not folder or folder == self._defaulted):
            self._defaulted = default_folder(raster)
            self.panel.output.setFilePath(self._defaulted)
        self.replan()

    def range_from_statistics(self) -> None:
        """Empty the range (the engine's percentiles then apply) and fill in what the engine finds."""
        self._fill_range = True
        self.panel.set_value_range(None)

    def estimate(self) -> None:
        """Plan now, measuring this model's cost on a few chips (once per model on the engine)."""
        say(self.panel.summary, "measuring this model on a few chips…")
        self.replan(now=True, measure=True)

    # the extent

    def use_layer_extent(self) -> None:
        self._set_extent(None, QgsCoordinateReferenceSystem(), LAYER)

    def use_canvas_extent(self) -> None:
        """The extent the map shows now (it stays when the map moves; click again to take the new one)."""
        self._set_extent(self.canvas.extent(), self._canvas_crs(), CANVAS)

    def draw_extent(self) -> None:
        """Take the next rectangle dragged on the map as the extent."""
        if self.canvas.mapTool() is not self.tool:
            self._before_drawing = self.canvas.mapTool()
            self.canvas.setMapTool(self.tool)
        say(self.panel.summary, "drag the extent on the map")

    def _extent_drawn(self, rect: QgsRectangle) -> None:
        self._put_tool_down()
        self._set_extent(rect, self._canvas_crs(), DRAWN)

    def _set_extent(self, rect: QgsRectangle | None, crs: QgsCoordinateReferenceSystem, kind: str) -> None:
        self.extent = None if rect is None else QgsRectangle(rect)
        self.extent_crs, self.extent_kind = crs, kind
        self.panel.set_extent_kind(kind)
        self.bands.show_extent(self.extent, crs)
        self.replan()

    def _put_tool_down(self) -> None:
        if self.canvas.mapTool() is self.tool:
            previous, self._before_drawing = self._before_drawing, None
            if previous is not None:
                self.canvas.setMapTool(previous)
            else:
                self.canvas.unsetMapTool(self.tool)

    def _map_tool_set(self, new: QgsMapTool, old: QgsMapTool) -> None:
        if old is self.tool and new is not self.tool:  # drawing done or abandoned
            self.panel.set_extent_kind(self.extent_kind)
            self.bands.show_extent(self.extent, self.extent_crs)
            self._show_summary()

    # the answers

    def _planned(self, body: dict, plan: dict) -> None:
        self.plan, self.plan_body = plan, body
        self.bands.show_grid(plan.get("grid"), from_engine(plan["crs"]))
        self._show_summary()
        self._update_buttons()
        if self._fill_range and body.get("value_range") is None:
            self._fill_range = False
            self.panel.set_value_range(plan["value_range"])

    def _show_summary(self) -> None:
        plan = self.plan
        if plan is not None:
            say(self.panel.summary, describe_plan(plan), "ok" if plan.get("grid") is not None else "warn")

    def _plan_failed(self, body: dict, message: str) -> None:
        self.plan, self.plan_body = None, body
        self._fill_range = False
        self.bands.show_grid(None, QgsCoordinateReferenceSystem())
        say(self.panel.summary, message, "error")
        self._update_buttons()

    def _update_buttons(self) -> None:
        planned = self.current_plan() is not None
        self.panel.export_button.setEnabled(planned)
        self.panel.copy_button.setEnabled(planned)
        self.panel.encode_button.setEnabled(planned and self.run is None)

    # the settings file

    def settings_text(self) -> str | None:
        """The current plan's settings file (JSON text), or None while there is no current plan."""
        plan = self.current_plan()
        return None if plan is None else json.dumps(plan["settings"], indent=2) + "\n"

    def export(self, path: str) -> bool:
        """Write the settings file to `path`; whether it was written (the status line says why not)."""
        text = self.settings_text()
        if text is None:
            say(self.panel.status, "no plan for these values yet; wait for the chip count, then export",
                "error")
            return False
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
        except OSError as exc:
            say(self.panel.status, f"cannot write {path} ({exc.strerror or exc}); choose another file",
                "error")
            return False
        say(self.panel.status, f"settings written to {os.path.basename(path)}: use them with samscape encode "
                               f"--settings or Processing ▸ Encode raster", "ok")
        return True

    def _export_dialog(self) -> None:
        raster, _ = raster_file(self.panel.layer.currentLayer())
        start = os.path.splitext(raster)[0] + "-settings.json" if raster else ""
        path, _ = QFileDialog.getSaveFileName(self, "Export the encode settings", start, "Settings (*.json)")
        if path:
            self.export(path if path.lower().endswith(".json") else path + ".json")

    def _copy(self) -> None:
        text = self.settings_text()
        if text is not None:
            QApplication.clipboard().setText(text)
            say(self.panel.status, "settings copied", "ok")

    # Encode now

    def encode_now(self) -> None:
        """Run Processing's Encode raster with the current plan's settings into the folder chosen."""
        plan = self.current_plan()
        raster, why = raster_file(self.panel.layer.currentLayer())
        folder = self.panel.output.filePath().strip()
        problem = why or ("" if plan is not None else "no plan for these values yet; wait for the chip count")
        if not problem and not folder:
            problem = "choose the feature folder to write (…), then Encode now"
        elif not problem and not os.path.isdir(os.path.dirname(os.path.abspath(folder))):
            problem = (f"no such folder '{os.path.dirname(folder)}'; choose the feature folder in an "
                       f"existing one")
        if problem:
            say(self.panel.status, problem, "error")
            return
        run = EncodeRun(raster, plan["settings"], folder, self)
        run.progressed.connect(lambda percent: self.panel.progress.setValue(round(percent)))
        run.finished.connect(self._encoded)
        problem = run.start()
        if problem:
            say(self.panel.status, problem, "error")
            return
        self.run = run
        self.panel.show_running(True)
        say(self.panel.status, f"encoding {plan['chips']} chips into {os.path.basename(folder)}…")
        self._update_buttons()

    def cancel(self) -> None:
        if self.run is not None:
            say(self.panel.status, "canceling…")
            self.run.cancel()

    def _encoded(self, ok: bool, results: dict, message: str) -> None:
        self.run = None
        self.panel.show_running(False)
        self._update_buttons()
        if not ok:
            say(self.panel.status, message, "error")
            return
        folder = results.get("OUTPUT", "")
        counts = (results.get(key, 0) for key in ("ENCODED", "ALREADY_DONE", "GRID_CHIP_COUNT"))
        say(self.panel.status, "encoded {} chips ({} were there, {} in the grid) into {}; it opens in the "
                               "samscape panel".format(*counts, os.path.basename(folder)), "ok")
        self.encoded.emit(folder)

    # shown and hidden

    def _visibility_changed(self, visible: bool) -> None:
        if visible:
            self.replan(now=True)
        else:
            self._put_tool_down()
            self.planner.ask(None)
            self.plan = self.plan_body = None
            self.bands.clear()

    def close_copilot(self) -> None:
        """Stop an encoding, put the tool down and take the bands off the canvas (the plugin unloads)."""
        if self.run is not None:
            self.run.cancel()
        self._put_tool_down()
        self.bands.remove()
