"""What the Encoder Copilot draws and takes on the map canvas: the chip grid and the extent as
rubber bands (each drawn in the CRS its coordinates are in; QGIS reprojects for display), and a
map tool that drags the extent."""

from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsRectangle
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor

from . import geojson
from .maptools import Drag
from .processing.compat import POLYGON_GEOMETRY as POLYGON

GRID_COLOR = "#d500f9"
EXTENT_COLOR = "#ff8f00"


def _band(canvas: QgsMapCanvas, color: str, fill_alpha: int, width: int, style: Qt.PenStyle) -> QgsRubberBand:
    band = QgsRubberBand(canvas, POLYGON)
    fill = QColor(color)
    fill.setAlpha(fill_alpha)
    band.setStrokeColor(QColor(color))
    band.setFillColor(fill)
    band.setWidth(width)
    band.setLineStyle(style)
    return band


def _draw(band: QgsRubberBand, shapes: list[QgsGeometry], crs: QgsCoordinateReferenceSystem) -> None:
    band.reset(POLYGON)
    for shape in shapes:
        band.addGeometry(shape, crs, False)
    band.updatePosition()
    band.update()


class CopilotBands:
    """The chip grid (thin, lightly filled so overlaps show darker) under the extent (dashed)."""

    def __init__(self, canvas: QgsMapCanvas) -> None:
        self.canvas = canvas
        self.grid = _band(canvas, GRID_COLOR, 0, 1, Qt.PenStyle.SolidLine)  # no fill: overlaps would tint
        self.extent = _band(canvas, EXTENT_COLOR, 0, 2, Qt.PenStyle.DashLine)
        self._bands = [self.grid, self.extent]

    def show_grid(self, grid: dict | None, crs: QgsCoordinateReferenceSystem) -> None:
        """The chips' footprints (the plan's GeoJSON in `crs`; None: none)."""
        _draw(self.grid, geojson.geometries(grid), crs)

    def show_extent(self, rect: QgsRectangle | None, crs: QgsCoordinateReferenceSystem) -> None:
        _draw(self.extent, [QgsGeometry.fromRect(rect)] if rect is not None else [], crs)

    def clear(self) -> None:
        for band in self._bands:
            band.reset(POLYGON)

    def remove(self) -> None:
        """Take the bands off the canvas for good."""
        for band in self._bands:
            self.canvas.scene().removeItem(band)
        self._bands = []


class ExtentTool(QgsMapTool):
    """Drag a rectangle with the left button: `dragged(rect)` while it grows, `drawn(rect)` on
    release (in the canvas's CRS; a rectangle without width or height is dropped)."""

    dragged = pyqtSignal(QgsRectangle)
    drawn = pyqtSignal(QgsRectangle)

    def __init__(self, canvas: QgsMapCanvas) -> None:
        super().__init__(canvas)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.drag = Drag()

    def canvasPressEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - QGIS's names
        self.drag.press(event)

    def canvasMoveEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802
        rect = self.drag.moved(event)
        if rect is not None:
            self.dragged.emit(rect)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802
        rect = self.drag.released(event)
        if rect is not None and rect.width() > 0 and rect.height() > 0:
            self.drawn.emit(rect)

    def deactivate(self) -> None:
        self.drag.start = None
        super().deactivate()
