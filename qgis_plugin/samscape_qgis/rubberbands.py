"""What the dock draws on the map canvas, as rubber bands: the prompts (foreground and background
points, the box), the result, the preview, the box being dragged and the chip boundary. Each is
drawn from the engine's GeoJSON in the CRS it is in; QGIS reprojects it to the canvas."""

from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsPointXY, QgsRectangle, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsRubberBand
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

from . import geojson

COLORS = {"fg": "#2e7d32", "bg": "#c62828", "box": "#ff8f00", "result": "#1565c0", "preview": "#00b8d4",
          "boundary": "#d500f9"}
POINT_SIZE = 12


def _color(name: str, alpha: int = 255) -> QColor:
    color = QColor(COLORS[name])
    color.setAlpha(alpha)
    return color


def _point_band(canvas: QgsMapCanvas, name: str) -> QgsRubberBand:
    band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PointGeometry)
    band.kind = QgsWkbTypes.GeometryType.PointGeometry
    band.setIcon(QgsRubberBand.IconType.ICON_CIRCLE)
    band.setIconSize(POINT_SIZE)
    band.setColor(_color(name))
    band.setFillColor(_color(name))
    band.setStrokeColor(QColor("white"))
    band.setWidth(2)
    return band


def _polygon_band(canvas: QgsMapCanvas, name: str, fill_alpha: int, width: int,
                  style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QgsRubberBand:
    band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PolygonGeometry)
    band.kind = QgsWkbTypes.GeometryType.PolygonGeometry
    band.setStrokeColor(_color(name))
    band.setFillColor(_color(name, fill_alpha))
    band.setWidth(width)
    band.setLineStyle(style)
    return band


def _draw(band: QgsRubberBand, shapes: list[QgsGeometry], crs: QgsCoordinateReferenceSystem) -> None:
    band.reset(band.kind)
    for shape in shapes:
        band.addGeometry(shape, crs, False)
    band.updatePosition()
    band.update()


class SceneBands:
    """The dock's rubber bands on `canvas`, in drawing order (boundary below, prompts on top)."""

    def __init__(self, canvas: QgsMapCanvas) -> None:
        self.canvas = canvas
        self.boundary = _polygon_band(canvas, "boundary", 0, 1, Qt.PenStyle.DashLine)
        self.encoded = _polygon_band(canvas, "boundary", 25, 2)
        self.result = _polygon_band(canvas, "result", 90, 2)
        self.preview = _polygon_band(canvas, "preview", 60, 2, Qt.PenStyle.DashLine)
        self.box = _polygon_band(canvas, "box", 0, 2)
        self.drag = _polygon_band(canvas, "box", 0, 1, Qt.PenStyle.DashLine)
        self.fg = _point_band(canvas, "fg")
        self.bg = _point_band(canvas, "bg")
        self._bands = [self.boundary, self.encoded, self.result, self.preview, self.box, self.drag, self.fg,
                       self.bg]

    def show_session(self, session: dict | None, crs: QgsCoordinateReferenceSystem) -> None:
        """The session's prompts and result (its JSON, in `crs`); None: nothing."""
        session = session or {}
        points = session.get("points") or []
        for band, label in ((self.fg, 1), (self.bg, 0)):
            _draw(band, [QgsGeometry.fromPointXY(QgsPointXY(p["x"], p["y"]))
                         for p in points if p["label"] == label], crs)
        box = session.get("box")
        _draw(self.box, [QgsGeometry.fromRect(QgsRectangle(*box))] if box else [], crs)
        _draw(self.result, geojson.geometries(session.get("result")), crs)

    def show_preview(self, collection: dict | None, crs: QgsCoordinateReferenceSystem) -> None:
        _draw(self.preview, geojson.geometries(collection), crs)

    def show_drag(self, rect: QgsRectangle | None, crs: QgsCoordinateReferenceSystem) -> None:
        """The box being dragged (None: none)."""
        _draw(self.drag, [QgsGeometry.fromRect(rect)] if rect is not None else [], crs)

    def show_boundary(self, chips: dict | None, crs: QgsCoordinateReferenceSystem,
                      live: bool = False) -> None:
        """The chip footprints (GeoJSON in the source's `crs`; None: hidden); on a `live` source the
        chips encoded so far are drawn solid and lightly filled, the others dashed."""
        features = (chips or {}).get("features") or []
        encoded = [f for f in features if live and f["properties"].get("encoded")]
        _draw(self.boundary, geojson.geometries({"features": [f for f in features if f not in encoded]}), crs)
        _draw(self.encoded, geojson.geometries({"features": encoded}), crs)

    def clear(self) -> None:
        for band in self._bands:
            band.reset(band.kind)

    def remove(self) -> None:
        """Take the bands off the canvas for good."""
        scene = self.canvas.scene()
        for band in self._bands:
            scene.removeItem(band)
        self._bands = []
