"""The Options tab: Enable, Max Polygon Only, the vectorisation (pixel-level or simplified),
Preview, Show Boundary, and Reset (styles and options back to their defaults). Every change is a
new `Options`."""

from __future__ import annotations

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .preferences import DEFAULT_OPTIONS, VECTORIZE, Options

VECTORIZE_TITLES = {"pixel": "Pixel-level", "simplified": "Simplified"}


class OptionsPanel(QWidget):
    """The Options tab, showing `options`; `changed(options)` when the user changes any of them,
    `reset_requested()` when Reset is pressed."""

    changed = pyqtSignal(object)  # an Options
    reset_requested = pyqtSignal()

    def __init__(self, options: Options = DEFAULT_OPTIONS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        tool = QGroupBox("Map", self)
        self.enabled = QCheckBox("Enable", tool)
        self.enabled.setToolTip("Off: the samscape tools are put down and the map is navigated freely")
        self.preview = QCheckBox("Preview Mode", tool)
        self.preview.setToolTip("The mask follows the mouse (P)")
        self.boundary = QCheckBox("Show Boundary", tool)
        self.boundary.setToolTip("Draw the footprints of the encoded chips")
        tool_layout = QVBoxLayout(tool)
        for box in (self.enabled, self.preview, self.boundary):
            tool_layout.addWidget(box)

        polygons = QGroupBox("Polygons", self)
        self.max_polygon_only = QCheckBox("Max Polygon Only", polygons)
        self.max_polygon_only.setToolTip("Keep only the largest polygon of a result")
        self.vectorize = QComboBox(polygons)
        self.vectorize.setObjectName("vectorize")
        self.vectorize.setToolTip("Pixel-level: edges follow the pixels; Simplified: fewer vertices")
        for name in VECTORIZE:
            self.vectorize.addItem(VECTORIZE_TITLES[name], name)
        form = QFormLayout(polygons)
        form.addRow(self.max_polygon_only)
        form.addRow("Vectorisation", self.vectorize)

        self.reset_button = QPushButton("Reset styles and options", self)
        self.reset_button.setToolTip("Styles and options back to their defaults")
        self.reset_button.clicked.connect(self.reset_requested)
        layout = QVBoxLayout(self)
        layout.addWidget(tool)
        layout.addWidget(polygons)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        self._shown = options
        self.show_options(options)
        for box in (self.enabled, self.preview, self.boundary, self.max_polygon_only):
            box.toggled.connect(self._edited)
        self.vectorize.currentIndexChanged.connect(self._edited)

    def options(self) -> Options:
        """The options the controls show."""
        return Options(enabled=self.enabled.isChecked(), max_polygon_only=self.max_polygon_only.isChecked(),
                       vectorize=self.vectorize.currentData(), preview=self.preview.isChecked(),
                       show_boundary=self.boundary.isChecked())

    def show_options(self, options: Options) -> None:
        """Show `options`; `changed` fires once if they differ from what was shown."""
        controls = (self.enabled, self.preview, self.boundary, self.max_polygon_only, self.vectorize)
        for control in controls:
            control.blockSignals(True)
        self.enabled.setChecked(options.enabled)
        self.preview.setChecked(options.preview)
        self.boundary.setChecked(options.show_boundary)
        self.max_polygon_only.setChecked(options.max_polygon_only)
        self.vectorize.setCurrentIndex(self.vectorize.findData(options.vectorize))
        for control in controls:
            control.blockSignals(False)
        self._edited()

    def _edited(self, *_: object) -> None:
        options = self.options()
        if options != self._shown:
            self._shown = options
            self.changed.emit(options)
