"""GeoJSON from the engine (polygons, x then y in the CRS it names) as QGIS geometries."""

from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY


def _ring(coordinates: list) -> list[QgsPointXY]:
    return [QgsPointXY(float(x), float(y)) for x, y, *_ in coordinates]


def geometry(shape: dict | None) -> QgsGeometry:
    """A GeoJSON Polygon or MultiPolygon (holes kept) as a QgsGeometry; empty for anything else."""
    kind = (shape or {}).get("type")
    if kind == "Polygon":
        return QgsGeometry.fromPolygonXY([_ring(r) for r in shape["coordinates"]])
    if kind == "MultiPolygon":
        return QgsGeometry.fromMultiPolygonXY([[_ring(r) for r in p] for p in shape["coordinates"]])
    return QgsGeometry()


def geometries(collection: dict | None) -> list[QgsGeometry]:
    """The non-empty geometries of a FeatureCollection (None: none)."""
    features = (collection or {}).get("features") or []
    shapes = (geometry(f.get("geometry")) for f in features)
    return [g for g in shapes if not g.isEmpty()]
