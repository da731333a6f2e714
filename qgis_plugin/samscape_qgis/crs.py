"""CRSs as the engine writes them ('EPSG:32633', or WKT where there is no EPSG code) and as QGIS
holds them."""

from __future__ import annotations

from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsProject, QgsRectangle


def from_engine(text: str, wkt: str = "") -> QgsCoordinateReferenceSystem:
    """The CRS the engine names `text` (its WKT `wkt` when `text` alone is not understood)."""
    crs = QgsCoordinateReferenceSystem()
    crs.createFromUserInput(text)
    if not crs.isValid() and wkt:
        crs = QgsCoordinateReferenceSystem.fromWkt(wkt)
    return crs


def to_engine(crs: QgsCoordinateReferenceSystem) -> str:
    """`crs` as the engine reads it: its authority id ('EPSG:4326') when it has one, else WKT."""
    authid = crs.authid()
    return authid if authid.upper().startswith("EPSG:") else crs.toWkt(
        QgsCoordinateReferenceSystem.WktVariant.WKT2_2019)


def transform_rect(rect: QgsRectangle, source: QgsCoordinateReferenceSystem,
                   target: QgsCoordinateReferenceSystem) -> QgsRectangle:
    """The rectangle in `target` that encloses `rect` (in `source`)."""
    if source == target:
        return QgsRectangle(rect)
    return QgsCoordinateTransform(source, target, QgsProject.instance()).transformBoundingBox(rect)
