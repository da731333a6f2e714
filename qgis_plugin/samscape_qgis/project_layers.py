"""The layers the dock puts in the QGIS project: the source's raster and the output layer (added
once, reloaded after every save so QGIS shows what the engine wrote)."""

from __future__ import annotations

import os

from qgis.core import QgsFillSymbol, QgsMapLayer, QgsProject, QgsRasterLayer, QgsVectorLayer, QgsWkbTypes

SAVED_STYLE = {"color": "255,214,0,70", "outline_color": "255,214,0,255", "outline_width": "0.5"}


def _path_of(layer: QgsMapLayer) -> str:
    return os.path.realpath(layer.source().split("|")[0])


def find_layer(path: str) -> QgsMapLayer | None:
    """The project's layer read from the file `path`, if any."""
    real = os.path.realpath(path)
    for layer in QgsProject.instance().mapLayers().values():
        if _path_of(layer) == real:
            return layer
    return None


def add_raster(path: str) -> tuple[QgsMapLayer | None, str]:
    """The raster at `path` in the project (added unless it is there already), and a line to show."""
    layer = find_layer(path)
    name = os.path.basename(path)
    if layer is not None:
        return layer, f"{name} is in the project already"
    layer = QgsRasterLayer(path, os.path.splitext(name)[0])
    if not layer.isValid():
        return None, f"QGIS cannot open {path} as a raster; add it yourself (Layer ▸ Add Layer)"
    QgsProject.instance().addMapLayer(layer)
    return layer, f"added {name} to the project"


def show_output(path: str) -> QgsVectorLayer | None:
    """The output GeoPackage at `path` in the project: added after its first save (outlined, filled
    lightly), reloaded after the next ones. None while the file does not exist or QGIS cannot read it."""
    layer = find_layer(path)
    if isinstance(layer, QgsVectorLayer):
        reload(layer)
        return layer
    if not os.path.exists(path):
        return None
    name = os.path.splitext(os.path.basename(path))[0]
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    if not layer.isValid():
        layer = QgsVectorLayer(path, name, "ogr")
    if not layer.isValid():
        return None
    if layer.geometryType() == QgsWkbTypes.GeometryType.PolygonGeometry:
        layer.renderer().setSymbol(QgsFillSymbol.createSimple(SAVED_STYLE))  # the image shows through
    QgsProject.instance().addMapLayer(layer)
    return layer


def reload(layer: QgsVectorLayer) -> None:
    """Show what the engine wrote into the file of `layer`."""
    layer.dataProvider().reloadData()
    layer.reload()
    layer.updateExtents()
    layer.triggerRepaint()
