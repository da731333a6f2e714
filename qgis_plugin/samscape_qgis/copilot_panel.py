"""The Encoder Copilot's form: the raster layer, its bands and value range, the model, resolution
scale, overlap and extent, the plan's summary with Estimate / Export / Copy, and Encode now. It
holds no state of the engine's: `copilot_dock.py` reads it and shows the answers."""

from __future__ import annotations

from qgis.core import Qgis, QgsMapLayerProxyModel, QgsRasterLayer
from qgis.gui import QgsFileWidget, QgsMapLayerComboBox, QgsRasterBandComboBox
from qgis.PyQt.QtCore import QLocale, pyqtSignal
from qgis.PyQt.QtGui import QDoubleValidator
from qgis.PyQt.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .labels import status_label

LAYER, CANVAS, DRAWN = "layer", "canvas", "drawn"
EXTENT_TITLES = {LAYER: "Whole layer", CANVAS: "Map canvas", DRAWN: "Draw on map"}
EXTENT_TIPS = {LAYER: "Encode the whole raster", CANVAS: "Encode what the map shows now",
               DRAWN: "Drag a rectangle on the map"}
RASTER_FILTER = getattr(getattr(Qgis, "LayerFilter", None), "RasterLayer", None) or \
    QgsMapLayerProxyModel.Filter.RasterLayer  # QGIS 3.34+ / older


def _number(edit: QLineEdit) -> float | None:
    try:
        return float(edit.text().strip().replace(",", "."))
    except ValueError:
        return None


class CopilotPanel(QWidget):
    """The form. `changed()` when a value that changes the plan changes (the extent excepted: its
    buttons are `extent_buttons`, handled by the dock)."""

    changed = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        raster = QGroupBox("Raster", self)
        self.layer = QgsMapLayerComboBox(raster)
        self.layer.setObjectName("copilot_layer")
        self.layer.setFilters(RASTER_FILTER)
        self.bands = [QgsRasterBandComboBox(raster) for _ in range(3)]
        for n, band in enumerate(self.bands):
            band.setShowNotSetOption(n > 0)
            band.setToolTip("Up to 3 bands: one is repeated to 3, two become b1, b2, b2")
            band.bandChanged.connect(self._changed)
        self.low, self.high = QLineEdit(raster), QLineEdit(raster)
        for edit, name in ((self.low, "min"), (self.high, "max")):
            validator = QDoubleValidator(edit)
            validator.setLocale(QLocale.c())
            edit.setValidator(validator)
            edit.setPlaceholderText(f"{name}: from statistics")
            edit.textChanged.connect(self._changed)
        self.statistics_button = QPushButton("From statistics", raster)
        self.statistics_button.setToolTip("The range between the 2 % and 98 % percentiles of the bands "
                                          "over the extent, computed by the engine")
        band_row, range_row = QHBoxLayout(), QHBoxLayout()
        for band in self.bands:
            band_row.addWidget(band, 1)
        range_row.addWidget(self.low, 1)
        range_row.addWidget(self.high, 1)
        range_row.addWidget(self.statistics_button)
        raster_form = QFormLayout(raster)
        raster_form.addRow("Layer", self.layer)
        raster_form.addRow("Bands", band_row)
        raster_form.addRow("Range", range_row)

        grid = QGroupBox("Chip grid", self)
        self.model = QComboBox(grid)
        self.model.setObjectName("copilot_model")
        self.model.setToolTip("The model sets the chip size; Encode now downloads it if needed")
        self.model.currentIndexChanged.connect(self._changed)
        self.scale = QDoubleSpinBox(grid)
        self.scale.setRange(0.1, 100.0)
        self.scale.setDecimals(2)
        self.scale.setSingleStep(0.5)
        self.scale.setValue(1.0)
        self.scale.setSuffix(" × pixel size")
        self.scale.valueChanged.connect(self._changed)
        self.overlap = QSpinBox(grid)
        self.overlap.setRange(0, 90)
        self.overlap.setValue(50)
        self.overlap.setSuffix(" %")
        self.overlap.setToolTip("How much of a chip the next chip shares")
        self.overlap.valueChanged.connect(self._changed)
        self.extent_buttons: dict[str, QPushButton] = {}
        self.extent_group = QButtonGroup(self)
        extent_row = QHBoxLayout()
        for kind, title in EXTENT_TITLES.items():
            button = QPushButton(title, grid)
            button.setCheckable(True)
            button.setToolTip(EXTENT_TIPS[kind])
            self.extent_group.addButton(button)
            self.extent_buttons[kind] = button
            extent_row.addWidget(button)
        self.extent_buttons[LAYER].setChecked(True)
        grid_form = QFormLayout(grid)
        grid_form.addRow("Model", self.model)
        grid_form.addRow("Resolution", self.scale)
        grid_form.addRow("Overlap", self.overlap)
        grid_form.addRow("Extent", extent_row)

        plan = QGroupBox("Plan", self)
        self.summary = status_label(plan, "copilot_summary")
        self.estimate_button = QPushButton("Estimate time and disk", plan)
        self.estimate_button.setToolTip("The engine encodes a few chips to measure this model")
        self.export_button = QPushButton("Export settings…", plan)
        self.export_button.setToolTip("The settings JSON for samscape encode --settings and Encode raster")
        self.copy_button = QPushButton("Copy", plan)
        plan_row = QHBoxLayout()
        for button in (self.estimate_button, self.export_button, self.copy_button):
            plan_row.addWidget(button)
        plan_row.addStretch(1)
        plan_layout = QVBoxLayout(plan)
        plan_layout.addWidget(self.summary)
        plan_layout.addLayout(plan_row)

        encode = QGroupBox("Encode", self)
        self.output = QgsFileWidget(encode)
        self.output.setObjectName("copilot_output")
        self.output.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output.setDialogTitle("Feature folder (new or empty, or one to resume)")
        self.output.lineEdit().setPlaceholderText("the feature folder to write")
        self.encode_button = QPushButton("Encode now", encode)
        self.encode_button.setToolTip("Runs Processing ▸ samscape ▸ Encode raster with these settings, "
                                      "then opens the folder in the samscape panel")
        self.cancel_button = QPushButton("Cancel", encode)
        self.progress = QProgressBar(encode)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = status_label(encode, "copilot_status")
        encode_row = QHBoxLayout()
        encode_row.addWidget(self.encode_button)
        encode_row.addWidget(self.cancel_button)
        encode_row.addWidget(self.progress, 1)
        encode_form = QFormLayout(encode)
        encode_form.addRow("Folder", self.output)
        encode_form.addRow(encode_row)
        encode_form.addRow(self.status)

        layout = QVBoxLayout(self)
        for box in (raster, grid, plan, encode):
            layout.addWidget(box)
        layout.addStretch(1)
        self.show_running(False)

    def _changed(self, *_: object) -> None:
        self.changed.emit()

    def set_layer_bands(self, layer: QgsRasterLayer | None) -> None:
        """The band lists of `layer`, set to 1, 2, 3 (1 alone for a raster with fewer than 3 bands)."""
        count = layer.bandCount() if layer is not None else 0
        for n, band in enumerate(self.bands):
            band.blockSignals(True)
            band.setLayer(layer)
            band.setBand(n + 1 if count >= 3 else (1 if n == 0 else -1))
            band.blockSignals(False)

    def chosen_bands(self) -> list[int]:
        return [b.currentBand() for b in self.bands if b.currentBand() > 0]

    def value_range(self) -> list[float] | None:
        """[min, max] typed in, or None (from statistics) unless both are numbers."""
        low, high = _number(self.low), _number(self.high)
        return None if low is None or high is None else [low, high]

    def set_value_range(self, values: list[float] | None) -> None:
        """Show `values` (None: empty, from statistics); `changed` comes once."""
        for edit, value in zip((self.low, self.high), values or (None, None)):
            edit.blockSignals(True)
            edit.setText("" if value is None else f"{round(value, 6):g}")
            edit.blockSignals(False)
        self.changed.emit()

    def set_models(self, models: list[dict]) -> None:
        """The engine's models (GET /api/models), keeping the one chosen; else the first on this
        machine (downloaded or imported), else the demo model."""
        chosen = self.model.currentData()
        usable = [m for m in models if not m.get("test_only") or m["id"] == "demo"]
        if chosen is None:
            here = [m["id"] for m in usable if m.get("status") in ("downloaded", "imported")]
            chosen = here[0] if here else "demo"
        self.model.blockSignals(True)
        self.model.clear()
        for model in usable:
            self.model.addItem(f"{model['id']} ({model.get('status', '?')})", model["id"])
        index = self.model.findData(chosen)
        self.model.setCurrentIndex(max(index, 0))
        self.model.blockSignals(False)
        self.changed.emit()

    def extent_kind(self) -> str:
        return next(k for k, b in self.extent_buttons.items() if b.isChecked())

    def set_extent_kind(self, kind: str) -> None:
        self.extent_buttons[kind].setChecked(True)

    def show_running(self, running: bool) -> None:
        """While an encoding runs: a progress bar and Cancel instead of Encode now."""
        self.encode_button.setVisible(not running)
        self.cancel_button.setVisible(running)
        self.progress.setVisible(running)
        if running:
            self.progress.setValue(0)
