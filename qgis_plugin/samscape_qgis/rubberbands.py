"""What the dock draws on the map canvas, as rubber bands: the prompts (foreground and background
points, the box), the result, the preview, the box being dragged and the chip boundary. Each is
drawn from the engine's GeoJSON in the CRS it is in; QGIS reprojects it to the canvas."""

from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsPointXY, QgsRectangle, QgsWkbTypes
from qgis.gui import QgsMapCanvas, QgsRubberBand
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QColor

from . import geojson
from .preferences import DEFAULT_STYLE, Style

ICONS = {"circle": QgsRubberBand.IconType.ICON_CIRCLE, "square": QgsRubberBand.IconType.ICON_FULL_BOX,
         "diamond": QgsRubberBand.IconType.ICON_FULL_DIAMOND, "cross": QgsRubberBand.IconType.ICON_CROSS,
         "x": QgsRubberBand.IconType.ICON_X}
FILLED = ("circle", "square", "diamond")  # the colour in a white outline; the others: on a white halo


def _color(name: str, alpha: int = 255) -> QColor:
    color = QColor(name)
    color.setAlpha(alpha)
    return color


def _point_band(canvas: QgsMapCanvas) -> QgsRubberBand:
    band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PointGeometry)
    band.kind = QgsWkbTypes.GeometryType.PointGeometry
    band.setWidth(2)
    return band


def _style_points(band: QgsRubberBand, color: str, style: Style) -> None:
    band.setIcon(ICONS[style.point_icon])
    band.setIconSize(style.point_size)
    filled = style.point_icon in FILLED
    band.setFillColor(_color(color))
    band.setStrokeColor(QColor("white") if filled else _color(color))
    band.setSecondaryStrokeColor(QColor() if filled else QColor("white"))
    band.update()


def _polygon_band(canvas: QgsMapCanvas, fill_alpha: int, width: int,
                  style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QgsRubberBand:
    band = QgsRubberBand(canvas, QgsWkbTypes.GeometryType.PolygonGeometry)
    band.kind = QgsWkbTypes.GeometryType.PolygonGeometry
    band.fill_alpha = fill_alpha
    band.setWidth(width)
    band.setLineStyle(style)
    return band


def _style_polygons(band: QgsRubberBand, color: str) -> None:
    band.setStrokeColor(_color(color))
    band.setFillColor(_color(color, band.fill_alpha))
    band.update()


def _draw(band: QgsRubberBand, shapes: list[QgsGeometry], crs: QgsCoordinateReferenceSystem) -> None:
    band.reset(band.kind)
    for shape in shapes:
        band.addGeometry(shape, crs, False)
    band.updatePosition()
    band.update()


class SceneBands:
    """The dock's rubber bands on `canvas`, in drawing order (boundary below, prompts on top),
    drawn in `style`."""

    def __init__(self, canvas: QgsMapCanvas, style: Style = DEFAULT_STYLE) -> None:
        self.canvas = canvas
        self.boundary = _polygon_band(canvas, 0, 1, Qt.PenStyle.DashLine)
        self.encoded = _polygon_band(canvas, 25, 2)  # a live source's chips encoded so far
        self.result = _polygon_band(canvas, 90, 2)
        self.preview = _polygon_band(canvas, 60, 2, Qt.PenStyle.DashLine)
        self.box = _polygon_band(canvas, 0, 2)
        self.drag = _polygon_band(canvas, 0, 1, Qt.PenStyle.DashLine)
        self.fg = _point_band(canvas)
        self.bg = _point_band(canvas)
        self._bands = [self.boundary, self.encoded, self.result, self.preview, self.box, self.drag, self.fg,
                       self.bg]
        self.set_style(style)

    def set_style(self, style: Style) -> None:
        """Draw in `style` from now on, what is shown included."""
        self.style = style
        for band, color in ((self.boundary, style.boundary), (self.encoded, style.boundary),
                            (self.result, style.result),
                            (self.preview, style.preview), (self.box, style.box), (self.drag, style.box)):
            _style_polygons(band, color)
        _style_points(self.fg, style.fg, style)
        _style_points(self.bg, style.bg, style)

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
