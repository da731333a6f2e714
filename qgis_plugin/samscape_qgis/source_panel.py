"""The Input group of the Input/Output tab: the source (a pre-encoded feature folder and Load; the
model, locked to the folder's, and the offer to get it when the engine lacks it), its raster and
Zoom to (the Output group is `output_panel.py`)."""

from __future__ import annotations

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


class SourcePanel(QWidget):
    """The Input group. It holds no state of the engine's: the dock tells it what was loaded."""

    load_requested = pyqtSignal(str)  # the feature folder
    add_raster_requested = pyqtSignal()
    zoom_requested = pyqtSignal()
    models_requested = pyqtSignal(str)  # the model a loaded folder needs and the engine lacks

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

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

        layout = QVBoxLayout(self)
        layout.addWidget(source)
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
