"""The Input/Output tab: the source (a pre-encoded feature folder and Load; the model, locked to
the folder's), its raster and Zoom to, and the output GeoPackage."""

from __future__ import annotations

import os

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .labels import status_label

PRE_ENCODED = "pre-encoded"
DEFAULT_OUTPUT = "samscape_polygons.gpkg"


def default_output(folder: str) -> str:
    """Where a folder's polygons go unless the user says otherwise: beside the folder."""
    parent = os.path.dirname(os.path.normpath(folder)) if folder else ""
    return os.path.join(parent, DEFAULT_OUTPUT) if parent else ""


class SourcePanel(QWidget):
    """The Input/Output tab. It holds no state of the engine's: the dock tells it what was loaded."""

    load_requested = pyqtSignal(str)  # the feature folder
    add_raster_requested = pyqtSignal()
    zoom_requested = pyqtSignal()
    output_chosen = pyqtSignal(str)
    models_requested = pyqtSignal(str)  # the model a loaded folder needs and the engine lacks

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._defaulted = ""  # the output path filled in for the last folder, while not edited
        self._chosen = ""  # the output path last given to the session

        source = QGroupBox("Input", self)
        self.mode = QComboBox(source)
        self.mode.addItem("Pre-encoded", PRE_ENCODED)
        self.folder = QgsFileWidget(source)
        self.folder.setObjectName("feature_folder")
        self.folder.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.folder.setDialogTitle("Feature folder (with manifest.parquet)")
        self.folder.lineEdit().setPlaceholderText("a feature folder from samscape encode")
        self.load_button = QPushButton("Load", source)
        self.load_button.clicked.connect(self._load)
        self.folder.lineEdit().returnPressed.connect(self._load)
        self.model = QComboBox(source)
        self.model.setObjectName("model")
        self.model.setEnabled(False)
        self.model.setToolTip("The model the folder was encoded with (from its manifest)")
        self.status = status_label(source, "source_status")
        self.get_model_button = QPushButton(source)
        self.get_model_button.setObjectName("get_model")
        self.get_model_button.clicked.connect(lambda: self.models_requested.emit(self._missing_model))
        self._missing_model = ""
        self.raster = status_label(source, "raster")
        self.add_raster_button = QPushButton("Add raster to project", source)
        self.add_raster_button.clicked.connect(self.add_raster_requested)
        self.zoom_button = QPushButton("Zoom to", source)
        self.zoom_button.clicked.connect(self.zoom_requested)

        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.load_button)
        view_row = QHBoxLayout()
        view_row.addWidget(self.zoom_button)
        view_row.addStretch(1)
        form = QFormLayout(source)
        form.addRow("Source", self.mode)
        form.addRow("Folder", folder_row)
        form.addRow("Model", self.model)
        form.addRow(self.status)
        form.addRow(self.get_model_button)
        form.addRow(self.raster)
        form.addRow(self.add_raster_button)
        form.addRow(view_row)

        output = QGroupBox("Output", self)
        self.output = QgsFileWidget(output)
        self.output.setObjectName("output_path")
        self.output.setStorageMode(QgsFileWidget.StorageMode.SaveFile)
        self.output.setFilter("GeoPackage (*.gpkg)")
        self.output.setConfirmOverwrite(False)  # an existing samscape layer is appended to
        self.output.lineEdit().setPlaceholderText(f"a new GeoPackage, e.g. {DEFAULT_OUTPUT}")
        self.output.fileChanged.connect(self._output_changed)
        self.output.lineEdit().editingFinished.connect(lambda: self._output_edited(self.output.filePath()))
        self.output_status = status_label(output, "output_status")
        output_layout = QVBoxLayout(output)
        output_layout.addWidget(self.output)
        output_layout.addWidget(self.output_status)

        layout = QVBoxLayout(self)
        layout.addWidget(source)
        layout.addWidget(output)
        layout.addStretch(1)
        self.show_source(None)
        self.offer_model("")

    def offer_model(self, model_id: str) -> None:
        """Offer to download or import `model_id`, which the folder needs ('': no offer)."""
        self._missing_model = model_id
        self.get_model_button.setText(f"Get model {model_id}…")
        self.get_model_button.setVisible(bool(model_id))

    def model_installed(self, model_id: str) -> None:
        """Load again once the model offered is on the engine's machine."""
        if model_id and model_id == self._missing_model:
            self._load()

    def _load(self) -> None:
        self.load_requested.emit(self.folder.filePath().strip())

    def output_for(self, folder: str) -> str:
        """The output path for a load of `folder`: the one the user chose, else one beside it."""
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
        if path and not path.lower().endswith(".gpkg"):
            path += ".gpkg"
            self.output.blockSignals(True)
            self.output.setFilePath(path)
            self.output.blockSignals(False)
        if path and path != self._chosen:
            self._chosen = path
            self.output_chosen.emit(path)

    def show_source(self, info: dict | None) -> None:
        """The loaded source (the engine's JSON), or none."""
        loaded = info is not None
        self.model.clear()
        if loaded:
            self.model.addItem(info["model"])
            self.folder.setFilePath(info["path"])
        raster = (info or {}).get("raster")
        self.raster.setText(f"Image: {raster}" if raster else "")
        self.raster.setVisible(bool(raster))
        self.add_raster_button.setEnabled(bool(raster))
        self.add_raster_button.setVisible(bool(raster))
        self.zoom_button.setEnabled(loaded)
