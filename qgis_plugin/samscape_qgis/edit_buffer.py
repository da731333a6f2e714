"""Saves into a polygon layer that QGIS writes itself (memory, PostGIS, any editable provider the
engine cannot write): the engine's rows, already in the layer's CRS, go through the layer's edit
buffer, one undoable edit command per save; an undo deletes exactly that group's features. The
edit buffer is never committed: as with QGIS's own digitising, the user saves the layer's edits."""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsExpression,
    QgsFeature,
    QgsFeatureRequest,
    QgsField,
    QgsVectorDataProvider,
    QgsVectorLayer,
    QgsWkbTypes,
)

from .geojson import geometry

# The fields the engine writes (samscape/vector/layers.py FIELDS), by name → 'str', 'int' or 'float'
FIELDS = {
    "group_id": "str", "group_size": "int", "area_m2": "float", "fg_points": "int", "bg_points": "int",
    "box_used": "int", "score": "float", "model": "str", "source": "str", "created": "str",
}
GROUP_FIELD = "group_id"
# QGIS 3.40 and 3.36 moved these enums into Qgis (4.x has only those); 3.22 has the old ones
_CAPS = getattr(Qgis, "VectorProviderCapability", None) or QgsVectorDataProvider.Capability
_NO_GEOMETRY = (Qgis.FeatureRequestFlag.NoGeometry if hasattr(Qgis, "FeatureRequestFlag")
                else QgsFeatureRequest.Flag.NoGeometry)


def _field(name: str, kind: str) -> QgsField:
    if Qgis.QGIS_VERSION_INT >= 33800:  # QgsField takes a QMetaType from 3.38 (and only that in 4.x)
        from qgis.PyQt.QtCore import QMetaType

        types = {"str": QMetaType.Type.QString, "int": QMetaType.Type.Int, "float": QMetaType.Type.Double}
    else:
        from qgis.PyQt.QtCore import QVariant

        types = {"str": QVariant.Type.String, "int": QVariant.Type.Int, "float": QVariant.Type.Double}
    return QgsField(name, types[kind])


def missing_fields(layer: QgsVectorLayer) -> list[str]:
    return [name for name in FIELDS if layer.fields().indexOf(name) < 0]


def prepare(layer: QgsVectorLayer) -> str:
    """'' when `layer` can take saves (samscape's missing fields are added to a memory layer), else
    the one line saying why not and what to do."""
    name, provider = layer.name(), layer.dataProvider()
    caps = provider.capabilities()
    if layer.readOnly() or not (caps & _CAPS.AddFeatures and caps & _CAPS.DeleteFeatures):
        return (f"layer {name} cannot be edited ({layer.providerType()}); choose an editable polygon "
                "layer or New GeoPackage…")
    if not layer.crs().isValid():
        return f"layer {name} has no CRS; set one (Layer Properties ▸ Source) or choose another layer"
    missing = missing_fields(layer)
    if missing and layer.providerType() == "memory" and caps & _CAPS.AddAttributes:
        provider.addAttributes([_field(n, FIELDS[n]) for n in missing])
        layer.updateFields()
        missing = missing_fields(layer)
    if missing:
        return (f"layer {name} lacks samscape's fields {', '.join(missing)}; add them, or choose "
                "another layer or New GeoPackage…")
    return ""


def add_group(layer: QgsVectorLayer, group_id: str, collection: dict) -> int:
    """Add the features of one save (GeoJSON in the layer's CRS, samscape's fields as properties)
    as one edit command; returns how many (ValueError with a line to show if QGIS refused them)."""
    fields = layer.fields()
    multi = QgsWkbTypes.isMultiType(layer.wkbType())
    features = []
    for item in collection.get("features") or []:
        feature = QgsFeature(fields)
        shape = geometry(item.get("geometry"))
        if multi:
            shape.convertToMultiType()
        feature.setGeometry(shape)
        for key, value in (item.get("properties") or {}).items():
            feature.setAttribute(fields.indexOf(key), value)
        features.append(feature)
    if not layer.isEditable() and not layer.startEditing():
        raise ValueError(f"layer {layer.name()} cannot be put in edit mode; choose another layer")
    layer.beginEditCommand(f"samscape save {group_id[-6:]}")
    if not layer.addFeatures(features):
        layer.destroyEditCommand()
        raise ValueError(f"layer {layer.name()} refused the polygons; choose another layer or "
                         "New GeoPackage…")
    layer.endEditCommand()
    layer.triggerRepaint()
    return len(features)


def group_features(layer: QgsVectorLayer, group_id: str) -> list[int]:
    """The ids of the features of one save (in the edit buffer too)."""
    request = QgsFeatureRequest().setFilterExpression(
        QgsExpression.createFieldEqualityExpression(GROUP_FIELD, group_id))
    request.setFlags(_NO_GEOMETRY)
    return [feature.id() for feature in layer.getFeatures(request)]


def remove_group(layer: QgsVectorLayer, group_id: str) -> int:
    """Delete the features of one save as one edit command; returns how many."""
    ids = group_features(layer, group_id)
    if not ids:
        return 0
    if not layer.isEditable():
        layer.startEditing()
    layer.beginEditCommand(f"samscape undo save {group_id[-6:]}")
    layer.deleteFeatures(ids)
    layer.endEditCommand()
    layer.triggerRepaint()
    return len(ids)
