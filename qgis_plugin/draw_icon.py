"""Draw the plugin's icon, `samscape_qgis/icon.png` (64×64): a segmented field outlined on a
map tile, with the foreground click that made it. Run with QGIS's Python:
`QT_QPA_PLATFORM=offscreen python3 qgis_plugin/draw_icon.py`."""

from __future__ import annotations

import sys
from pathlib import Path

from qgis.PyQt.QtCore import QPointF, QRectF, Qt
from qgis.PyQt.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen, QPolygonF

SIZE = 64
OUT = Path(__file__).resolve().parent / "samscape_qgis" / "icon.png"


def draw() -> QImage:
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    # the map tile: fields in two greens, a river
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#5b8c3a"))
    painter.drawRoundedRect(QRectF(2, 2, 60, 60), 10, 10)
    painter.setBrush(QColor("#7fae4e"))
    painter.drawPolygon(QPolygonF([QPointF(2, 40), QPointF(62, 22), QPointF(62, 52), QPointF(2, 62)]))
    painter.setPen(QPen(QColor("#3d7fc1"), 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.drawLine(QPointF(6, 10), QPointF(58, 6))
    # the segmented field
    field = QPolygonF([QPointF(14, 20), QPointF(44, 15), QPointF(54, 36), QPointF(38, 54),
                       QPointF(12, 46)])
    painter.setBrush(QColor(255, 210, 40, 150))
    painter.setPen(QPen(QColor("#ffffff"), 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                        Qt.PenJoinStyle.RoundJoin))
    painter.drawPolygon(field)
    # the foreground click
    painter.setPen(QPen(QColor("#ffffff"), 2))
    painter.setBrush(QColor("#1aa64a"))
    painter.drawEllipse(QPointF(31, 35), 6, 6)
    painter.end()
    return image


if __name__ == "__main__":
    app = QGuiApplication(sys.argv)
    if not draw().save(str(OUT), "PNG"):
        sys.exit(f"could not write {OUT}")
    print(OUT)
