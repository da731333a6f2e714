"""The Output group of the Input/Output tab: where saves go, a new GeoPackage (the default, beside
the feature folder unless the user gives a path) or a polygon layer of the project (the list follows
the project as layers come and go)."""

from __future__ import annotations

import os

from qgis.core import Qgis, QgsMapLayerProxyModel, QgsVectorLayer
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QFormLayout, QGroupBox, QWidget

from .labels import status_label

DEFAULT_OUTPUT = "samscape_polygons.gpkg"
NEW_GEOPACKAGE = "New GeoPackage…"
# the engine's layer formats: a path typed with one of them is kept, any other becomes a GeoPackage
LAYER_FILES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".parquet", ".geoparquet")
# QGIS 3.34 moved the layer filters to Qgis.LayerFilter; 3.22 has only QgsMapLayerProxyModel's
POLYGON_LAYERS = (Qgis.LayerFilter.PolygonLayer if hasattr(Qgis, "LayerFilter")
                  else QgsMapLayerProxyModel.Filter.PolygonLayer)


def default_output(folder: str) -> str:
    """Where a folder's polygons go unless the user says otherwise: beside the folder."""
    parent = os.path.dirname(os.path.normpath(folder)) if folder else ""
    return os.path.join(parent, DEFAULT_OUTPUT) if parent else ""


class OutputPanel(QGroupBox):
    """'Save to': New GeoPackage… (with its file) or a polygon layer of the project. It only shows
    the choice; `output.py` decides who writes it."""

    output_chosen = pyqtSignal(str)  # a GeoPackage path, while New GeoPackage… is chosen
    layer_chosen = pyqtSignal(object)  # a QgsVectorLayer of the project, or None: New GeoPackage…

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Output", parent)
        self._defaulted = ""  # the output path filled in for the last folder, while not edited
        self._chosen = ""  # the output path last given to the session

        self.target = QgsMapLayerComboBox(self)
        self.target.setObjectName("output_target")
        self.target.setFilters(POLYGON_LAYERS)
        self.target.setAllowEmptyLayer(True, NEW_GEOPACKAGE)
        self.target.setLayer(None)
        self.target.setToolTip("A new GeoPackage written by the engine, or a polygon layer of the project")
        self.target.layerChanged.connect(self._target_changed)
        self.output = QgsFileWidget(self)
        self.output.setObjectName("output_path")
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setFilter("GeoPackage (*.gpkg)")
        self.output.setConfirmOverwrite(False)  # an existing samscape layer is appended to
        self.output.lineEdit().setPlaceholderText(f"a new GeoPackage, e.g. {DEFAULT_OUTPUT}")
        self.output.fileChanged.connect(self._output_changed)
        self.output.lineEdit().editingFinished.connect(lambda: self._output_edited(self.output.filePath()))
        self.output_status = status_label(self, "output_status")
        form = QFormLayout(self)
        form.addRow("Save to", self.target)
        form.addRow("File", self.output)
        self._file_label = form.labelForField(self.output)
        form.addRow(self.output_status)

    def layer(self) -> QgsVectorLayer | None:
        """The project's layer chosen, None while New GeoPackage… is."""
        layer = self.target.currentLayer()
        return layer if isinstance(layer, QgsVectorLayer) else None

    def _target_changed(self, _layer: object) -> None:
        layer = self.layer()
        self.output.setVisible(layer is None)
        self._file_label.setVisible(layer is None)
        self.layer_chosen.emit(layer)

    def output_for(self, folder: str) -> str:
        """The GeoPackage for a load of `folder`: the one the user chose, else one beside it."""
        current = self.output.filePath().strip()
        if current and current != self._defaulted:
            return current
        self._defaulted = self._chosen = default_output(folder)
        self.output.blockSignals(True)
        self.output.setFilePath(self._defaulted)
        self.output.blockSignals(False)
        return self._defaulted

    def _output_changed(self, path: str) -> None:
        if not self.output.lineEdit().hasFocus():  # chosen in the dialog or set; typing ends later
            self._output_edited(path)

    def _output_edited(self, path: str) -> None:
        path = path.strip()
        if path and not path.lower().endswith(LAYER_FILES):
            path += ".gpkg"
            self.output.blockSignals(True)
            self.output.setFilePath(path)
            self.output.blockSignals(False)
        if path and path != self._chosen:
            self._chosen = path
            self.output_chosen.emit(path)
