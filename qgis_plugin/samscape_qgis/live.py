"""Live encoding in the dock: the raster file a layer gives the engine (a layer the engine cannot
read, e.g. XYZ or WMS, exported first where the canvas shows it), the models it can run, and
the progress of the chips a prompt waits for (as the browser app's `progress.js` has it: the bar
shows at once when a prompt reaches a chip not encoded yet, then the engine's polled count)."""

from __future__ import annotations

import os
import re
import time

from qgis.core import (
    QgsApplication,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsMapLayer,
    QgsPointXY,
    QgsProcessingUtils,
    QgsProject,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsRectangle,
    QgsTask,
)
from qgis.gui import QgsMapCanvas
from qgis.PyQt.QtCore import QObject, QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import QProgressBar, QWidget

from . import geojson
from .client import Reply
from .crs import from_engine

LIVE = "live"
INSTALLED = ("built-in", "downloaded", "imported")
POLL_MS = 100
MAX_EXPORT_PIXELS = 8192  # the longer side of an exported layer, at most


def raster_path(layer: QgsMapLayer | None) -> tuple[str, str]:
    """The file the engine opens for the raster `layer` ('' : none, to be exported), or a line saying
    why there is nothing to load."""
    if layer is None:
        return "", "add a raster layer to the project (Layer ▸ Add Layer), choose it, then Load"
    path = layer.source().split("|")[0]
    if layer.providerType() == "gdal" and os.path.isfile(path):
        return path, ""
    return "", ""


class VisibleExport(QgsTask):
    """The part of a raster `layer` the canvas shows, as the canvas draws it (RGBA), written to a
    GeoTIFF in QGIS's temporary folder (one of the engine's roots) off the UI thread: for the
    layers the engine cannot open (XYZ, WMS, WCS, virtual rasters...). `path` is set when it ends
    well, else `error` (one line)."""

    def __init__(self, layer: QgsRasterLayer, canvas: QgsMapCanvas) -> None:
        super().__init__(f"samscape: export {layer.name()} for live encoding")
        settings = canvas.mapSettings()
        self.name = layer.name()
        self.crs = layer.crs()
        shown = QgsCoordinateTransform(settings.destinationCrs(), self.crs, QgsProject.instance()
                                       ).transformBoundingBox(canvas.extent())
        self.extent = shown.intersect(layer.extent())
        self.pixel = shown.width() / max(1, settings.outputSize().width())  # the canvas's, in layer units
        self.context = QgsProject.instance().transformContext()
        self.pipe = QgsRasterPipe()
        self.pipe.set(layer.dataProvider().clone())
        self.pipe.set(layer.renderer().clone())
        stem = re.sub(r"[^\w-]+", "_", layer.name()).strip("_") or "layer"
        name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.tif"
        self.target = os.path.join(QgsProcessingUtils.tempFolder(), name)
        self.path = ""
        self.error = ""

    def run(self) -> bool:
        if self.extent.isEmpty():
            self.error = f"the map shows no part of {self.name}; pan to it (or Zoom to Layer), then Load"
            return False
        pixel = max(self.pixel, max(self.extent.width(), self.extent.height()) / MAX_EXPORT_PIXELS)
        width = max(1, round(self.extent.width() / pixel))
        height = max(1, round(self.extent.height() / pixel))
        writer = QgsRasterFileWriter(self.target)
        status = writer.writeRaster(self.pipe, width, height, self.extent, self.crs, self.context)
        if not (status == 0 or getattr(status, "name", "") in ("NoError", "Success")):  # Qt5 int, Qt6 enum
            self.error = (f"QGIS could not export {self.name} to {self.target} ({status}); export it "
                          f"yourself (right-click ▸ Export ▸ Save As…), choose that layer, then Load")
            return False
        self.path = self.target
        return True


def export_visible(layer: QgsRasterLayer, canvas: QgsMapCanvas) -> VisibleExport:
    """Start exporting what the canvas shows of `layer`; its `taskCompleted`/`taskTerminated` tell."""
    task = VisibleExport(layer, canvas)
    QgsApplication.taskManager().addTask(task)
    return task


def model_choices(models: list[dict]) -> list[tuple[str, str]]:
    """(label, id) for the live model selector: every model but the test-only ones, with its status."""
    return [(f"{m['id']} ({m['status']})", m["id"]) for m in models if not m.get("test_only")]


def default_model(models: list[dict]) -> str:
    """The model chosen until the user picks one: the first installed one (else the first)."""
    shown = [m for m in models if not m.get("test_only")]
    installed = [m["id"] for m in shown if m["status"] in INSTALLED]
    return (installed or [m["id"] for m in shown] or [""])[0]


def model_problem(model: dict | None) -> str:
    """Why live encoding cannot use `model` now, with the fix ('' : it can)."""
    if model is None:
        return "no model is chosen; start the samscape engine (Restart engine) to list its models"
    if model["status"] == "broken":
        return f"model {model['id']} is damaged: {model.get('problem') or 'remove it and download it again'}"
    if model["status"] not in INSTALLED:
        return (f"model {model['id']} is {model['status']}; run 'samscape models download {model['id']}' "
                f"(or import it), or choose an installed model")
    return ""


class EncodingProgress(QObject):
    """The chips being encoded for the prompts and previews in flight on a live source of `owner` (a
    SegmentationSession). `changed((done, total))` while they are (0, 0: not counted yet), None when
    none is; `chips_changed(chips)` when the engine has encoded more of them (its /chips GeoJSON)."""

    changed = pyqtSignal(object)
    chips_changed = pyqtSignal(dict)

    def __init__(self, owner) -> None:
        super().__init__(owner)
        self.owner = owner
        self.shown = False
        self._in_flight = 0
        self._encoded = False  # chips were encoded for the requests in flight
        self._polling: Reply | None = None
        self._refreshing: Reply | None = None
        self._timer = QTimer(self, interval=POLL_MS, timeout=self._poll)

    @property
    def idle(self) -> bool:
        """No prompt is followed and the chips are not being asked for."""
        return not self._in_flight and self._refreshing is None

    def track(self, reply: Reply, body: dict | None) -> None:
        """Follow the prompt or preview `reply` (its request `body`, in the session's CRS)."""
        source = self.owner.source
        if source is None or source.get("mode") != LIVE:
            return
        self._in_flight += 1
        if body and self._touches_unencoded(body):
            self._show((0, 0))
        self._timer.start()
        source_id = source["id"]
        reply.then(lambda r: self._answered(source_id, r))

    def clear(self) -> None:
        """Forget what is in flight (the source is gone or replaced)."""
        self._in_flight = 0
        self._encoded = False
        self._refreshing = None
        self._timer.stop()
        self._hide()

    def _answered(self, source_id: str, reply: Reply) -> None:
        source = self.owner.source
        if source is None or source["id"] != source_id:
            return
        self._in_flight = max(0, self._in_flight - 1)
        data = reply.data if reply.ok and isinstance(reply.data, dict) else {}
        result = data.get("result") if "result" in data else data
        if set((result or {}).get("chips") or []) - self.encoded_ids():
            self._encoded = True
        if self._in_flight:
            return
        self._timer.stop()
        if self._encoded or self.shown:
            self._refresh_chips(source_id)
        self._encoded = False
        self._hide()

    def encoded_ids(self) -> set[int]:
        """The chips the engine had encoded when last asked."""
        features = (self.owner.chips or {}).get("features") or []
        return {f["properties"]["id"] for f in features if f["properties"].get("encoded")}

    def _touches_unencoded(self, body: dict) -> bool:
        """Whether the point or box of `body` reaches beyond the chips encoded so far (so the engine
        has chips to encode before it answers)."""
        owner = self.owner
        try:
            to_source = QgsCoordinateTransform(owner.crs, from_engine(owner.source["crs"], owner.source.get(
                "crs_wkt", "")), QgsProject.instance())
            if "box" in body:
                shape = QgsGeometry.fromRect(to_source.transformBoundingBox(QgsRectangle(*body["box"])))
            else:
                shape = QgsGeometry.fromPointXY(to_source.transform(QgsPointXY(body["x"], body["y"])))
        except Exception:  # QgsCsException: a prompt the source's CRS cannot hold
            return False
        features = (owner.chips or {}).get("features") or []
        if not any(geojson.geometry(f["geometry"]).intersects(shape) for f in features):
            return False  # outside the raster: the engine says so, nothing is encoded
        encoded = [geojson.geometry(f["geometry"]) for f in features if f["properties"].get("encoded")]
        return not (encoded and QgsGeometry.unaryUnion(encoded).contains(shape))

    def _poll(self) -> None:
        owner = self.owner
        if self._polling is not None or owner.source is None or owner.client is None:
            return
        source_id = owner.source["id"]
        self._polling = owner.client.get(f"/api/sources/{source_id}/progress")
        self._polling.then(lambda r: self._polled(source_id, r))

    def _polled(self, source_id: str, reply: Reply) -> None:
        self._polling = None
        source = self.owner.source
        if not (reply.ok and self._in_flight and source is not None and source["id"] == source_id):
            return
        if reply.data.get("encoding") and reply.data.get("total"):
            self._encoded = True
            self._show((reply.data["done"], reply.data["total"]))

    def _refresh_chips(self, source_id: str) -> None:
        def answered(reply: Reply) -> None:
            self._refreshing = None
            source = self.owner.source
            if reply.ok and source is not None and source["id"] == source_id:
                self.owner.chips = reply.data
                self.chips_changed.emit(reply.data)

        self._refreshing = self.owner.client.get(f"/api/sources/{source_id}/chips")
        self._refreshing.then(answered)

    def _show(self, state: tuple[int, int]) -> None:
        self.shown = True
        self.changed.emit(state)

    def _hide(self) -> None:
        if self.shown:
            self.shown = False
            self.changed.emit(None)


class ProgressBar(QProgressBar):
    """The dock's bar for live encoding: hidden until chips are encoded."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("encoding_progress")
        self.setTextVisible(True)
        self.hide()

    def show_progress(self, state: tuple[int, int] | None) -> None:
        """(done, total) chips encoded, (0, 0) not counted yet, None: hidden."""
        if state is None:
            self.hide()
            return
        done, total = state
        self.setRange(0, max(total, 1))
        self.setValue(done)
        self.setFormat(f"encoding chips {done}/{total}" if total else "encoding chips…")
        self.show()
