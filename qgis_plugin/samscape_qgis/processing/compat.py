"""Enum values under their QGIS 3.22 names and their newer ones (the scoped `Qgis.*` enums of
QGIS 3.30+/3.36+ that QGIS 4 keeps alone), so the algorithms run on both."""

from __future__ import annotations

import qgis.core


def _pick(new: str, old: str):
    """The value at the dotted path `new` in qgis.core if this QGIS has it, else at `old`."""
    for path in (new, old):
        value = qgis.core
        try:
            for part in path.split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        return value
    raise AttributeError(f"this QGIS has neither {new} nor {old}")


ADVANCED = _pick("Qgis.ProcessingParameterFlag.Advanced", "QgsProcessingParameterDefinition.FlagAdvanced")
INTEGER = _pick("Qgis.ProcessingNumberParameterType.Integer", "QgsProcessingParameterNumber.Integer")
DOUBLE = _pick("Qgis.ProcessingNumberParameterType.Double", "QgsProcessingParameterNumber.Double")
FILE = _pick("Qgis.ProcessingFileParameterBehavior.File", "QgsProcessingParameterFile.File")
FOLDER = _pick("Qgis.ProcessingFileParameterBehavior.Folder", "QgsProcessingParameterFile.Folder")
VECTOR_POINT = _pick("Qgis.ProcessingSourceType.VectorPoint", "QgsProcessing.TypeVectorPoint")
VECTOR_POLYGON = _pick("Qgis.ProcessingSourceType.VectorPolygon", "QgsProcessing.TypeVectorPolygon")
POINT_GEOMETRY = _pick("Qgis.GeometryType.Point", "QgsWkbTypes.PointGeometry")
POLYGON_GEOMETRY = _pick("Qgis.GeometryType.Polygon", "QgsWkbTypes.PolygonGeometry")
WKB_POINT = _pick("Qgis.WkbType.Point", "QgsWkbTypes.Point")
WKB_MULTIPOLYGON = _pick("Qgis.WkbType.MultiPolygon", "QgsWkbTypes.MultiPolygon")
NO_ERROR = _pick("QgsVectorFileWriter.WriterError.NoError", "QgsVectorFileWriter.NoError")


def advanced(parameter):
    """`parameter` marked advanced (shown under "Advanced Parameters"), for chaining."""
    parameter.setFlags(parameter.flags() | ADVANCED)
    return parameter
