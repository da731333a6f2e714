"""The Input group of the Input/Output tab: the source (Live Encoding: a raster layer of the project,
a model and Load; Pre-encoded: a feature folder, the model it records or one chosen for a Geo-SAM
folder whose checkpoint samscape does not know, Load, and the offer to get the model when the engine
lacks it), its raster and Zoom to (the Output group is `output_panel.py`)."""

from __future__ import annotations

from qgis.core import Qgis, QgsMapLayerProxyModel
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox
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

from .labels import say, status_label
from .live import LIVE, default_model, model_choices, model_problem

PRE_ENCODED = "pre-encoded"
RECORDED_MODEL = "as the folder records"
RASTER_LAYERS = getattr(Qgis, "LayerFilter", QgsMapLayerProxyModel.Filter).RasterLayer  # 3.34+: Qgis's


class SourcePanel(QWidget):
    """The Input group. It holds no state of the engine's: the dock tells it what was loaded."""

    load_requested = pyqtSignal(str, str)  # the feature folder, the model chosen for it ('': its own)
    live_requested = pyqtSignal(object, str)  # the raster layer (None: none chosen), the model's id
    add_raster_requested = pyqtSignal()
    zoom_requested = pyqtSignal()
    models_requested = pyqtSignal(str)  # the model a loaded folder needs and the engine lacks

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

        source = QGroupBox("Input", self)
        self.mode = QComboBox(source)
        self.mode.setObjectName("source_mode")
        self.mode.addItem("Live Encoding", LIVE)
        self.mode.addItem("Pre-encoded", PRE_ENCODED)
        self.mode.setCurrentIndex(1)
        self.raster_layer = QgsMapLayerComboBox(source)
        self.raster_layer.setObjectName("raster_layer")
        self.raster_layer.setFilters(RASTER_LAYERS)
        self.raster_layer.setToolTip("The raster layer to segment; its chips are encoded as prompts reach "
                                     "them")
        self.live_model = QComboBox(source)
        self.live_model.setObjectName("live_model")
        self.live_model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.live_model.setMinimumContentsLength(12)  # long model names do not widen the dock
        self.live_model.setToolTip("The model that encodes the chips (the engine's models and their status)")
        self.live_model.currentIndexChanged.connect(self._live_model_changed)
        self.live_load_button = QPushButton("Load", source)
        self.live_load_button.setObjectName("live_load")
        self.live_load_button.clicked.connect(self._load_live)
        self.models: list[dict] = []
        self.folder = QgsFileWidget(source)
        self.folder.setObjectName("feature_folder")
        self.folder.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.folder.setDialogTitle("Feature folder (with manifest.parquet)")
        self.folder.lineEdit().setPlaceholderText("a feature folder from samscape encode")
        self.load_button = QPushButton("Load", source)
        self.load_button.clicked.connect(self._load)
        self.folder.lineEdit().returnPressed.connect(self._load)
        self.folder.fileChanged.connect(lambda _: self.model.setCurrentIndex(0))  # chosen for another
        self.model = QComboBox(source)
        self.model.setObjectName("model")
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(12)
        self.model.setToolTip("The model the folder was encoded with: the one its manifest records, or "
                              "for a Geo-SAM folder the model holding its checkpoint's weights (e.g. "
                              "a fine-tuned or renamed one, imported under Models)")
        self.model.addItem(RECORDED_MODEL, "")
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
        live_row = QWidget(source)  # a widget, not a layout, so that hiding it leaves no gap
        live_row_layout = QHBoxLayout(live_row)
        live_row_layout.setContentsMargins(0, 0, 0, 0)
        live_row_layout.addStretch(1)
        live_row_layout.addWidget(self.live_load_button)
        form = QFormLayout(source)
        form.addRow("Source", self.mode)
        form.addRow("Raster", self.raster_layer)
        form.addRow("Model", self.live_model)
        form.addRow(live_row)
        form.addRow("Folder", folder_row)
        form.addRow("Model", self.model)
        self._live_rows = [self.raster_layer, self.live_model, live_row,
                           form.labelForField(self.raster_layer), form.labelForField(self.live_model)]
        self._folder_rows = [self.folder, self.load_button, self.model, form.labelForField(folder_row),
                             form.labelForField(self.model)]
        self.mode.currentIndexChanged.connect(self._mode_changed)
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
        self._mode_changed()

    def offer_model(self, model_id: str) -> None:
        """Offer to download or import `model_id`, which the folder needs ('': no offer)."""
        self._missing_model = model_id
        self.get_model_button.setText(f"Get model {model_id}…")
        self.get_model_button.setVisible(bool(model_id))

    def model_installed(self, model_id: str) -> None:
        """Load again once the model offered is on the engine's machine."""
        if model_id and model_id == self._missing_model:
            self._load()

    @property
    def live(self) -> bool:
        return self.mode.currentData() == LIVE

    def _mode_changed(self, *_: object) -> None:
        for widget in self._live_rows:
            widget.setVisible(self.live)
        for widget in self._folder_rows:
            widget.setVisible(not self.live)

    def _load(self) -> None:
        self.load_requested.emit(self.folder.filePath().strip(), self.model.currentData() or "")

    def _chosen_model(self) -> dict | None:
        chosen = self.live_model.currentData()
        return next((m for m in self.models if m["id"] == chosen), None)

    def _load_live(self) -> None:
        problem = model_problem(self._chosen_model())
        if problem:
            say(self.status, problem, "error")
            return
        self.live_requested.emit(self.raster_layer.currentLayer(), self.live_model.currentData())

    def show_models(self, models: list[dict]) -> None:
        """The engine's models (GET /api/models) in the live and the folder model selectors, the
        choices kept."""
        self.models = models
        _fill(self.live_model, model_choices(models), self.live_model.currentData() or default_model(models))
        _fill(self.model, model_choices(models), self.model.currentData(), keep=1)

    def _live_model_changed(self, *_: object) -> None:
        problem = model_problem(self._chosen_model())
        if problem:
            say(self.status, problem, "warn")

    def show_source(self, info: dict | None) -> None:
        """The loaded source (the engine's JSON), or none."""
        loaded = info is not None
        live = loaded and info.get("mode") == LIVE
        self.model.setItemText(0, RECORDED_MODEL)
        if live:
            self.mode.setCurrentIndex(self.mode.findData(LIVE))
        elif loaded:
            self.mode.setCurrentIndex(self.mode.findData(PRE_ENCODED))
            self.folder.blockSignals(True)  # the model chosen for it stays
            self.folder.setFilePath(info["path"])
            self.folder.blockSignals(False)
            if self.model.currentData() != info["model"]:  # opened with the model it records
                self.model.setCurrentIndex(0)
                self.model.setItemText(0, f"{info['model']} ({RECORDED_MODEL})")
        raster = (info or {}).get("raster")
        self.raster.setText(f"Image: {raster}" if raster else "")
        self.raster.setVisible(bool(raster) and not live)  # live: the raster is the layer chosen above
        self.add_raster_button.setEnabled(bool(raster) and not live)
        self.add_raster_button.setVisible(bool(raster) and not live)
        self.zoom_button.setEnabled(loaded)


def _fill(combo: QComboBox, choices: list[tuple[str, str]], chosen: str, keep: int = 0) -> None:
    """`choices` (label, id) in `combo` after its first `keep` items, `chosen` selected (else the
    first item), without signalling the change."""
    combo.blockSignals(True)
    while combo.count() > keep:
        combo.removeItem(keep)
    for label, model_id in choices:
        combo.addItem(label, model_id)
    combo.setCurrentIndex(max(0, combo.findData(chosen)))
    combo.blockSignals(False)
