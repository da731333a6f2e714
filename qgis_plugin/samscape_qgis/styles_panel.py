"""The Styles tab: the point icon and its size, and the colours of foreground and background
points, the box, the result, the preview and the chip boundary. Every change is a new `Style`."""

from __future__ import annotations

from qgis.gui import QgsColorButton, QgsSpinBox
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from .preferences import COLORS, DEFAULT_STYLE, ICONS, POINT_SIZES, Style

COLOR_TITLES = {"fg": "Foreground points", "bg": "Background points", "box": "Box",
                "result": "Result polygon", "preview": "Preview", "boundary": "Chip boundary"}
ICON_TITLES = {"circle": "Circle", "square": "Square", "diamond": "Diamond", "cross": "Cross", "x": "X"}


class StylesPanel(QWidget):
    """The Styles tab, showing `style`; `changed(style)` when the user changes any of it."""

    changed = pyqtSignal(object)  # a Style

    def __init__(self, style: Style = DEFAULT_STYLE, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        points = QGroupBox("Points", self)
        self.point_size = QgsSpinBox(points)
        self.point_size.setObjectName("point_size")
        self.point_size.setRange(*POINT_SIZES)
        self.point_size.setSuffix(" px")
        self.point_size.setClearValue(DEFAULT_STYLE.point_size)
        self.point_icon = QComboBox(points)
        self.point_icon.setObjectName("point_icon")
        for name in ICONS:
            self.point_icon.addItem(ICON_TITLES[name], name)
        points_form = QFormLayout(points)
        points_form.addRow("Size", self.point_size)
        points_form.addRow("Icon", self.point_icon)

        colors = QGroupBox("Colours", self)
        colors_form = QFormLayout(colors)
        self.colors: dict[str, QgsColorButton] = {}
        for name in COLORS:
            button = QgsColorButton(colors, f"{COLOR_TITLES[name]} colour")
            button.setObjectName(f"color_{name}")
            button.setAllowOpacity(False)
            button.setShowNoColor(False)
            button.setDefaultColor(QColor(getattr(DEFAULT_STYLE, name)))
            self.colors[name] = button
            colors_form.addRow(COLOR_TITLES[name], button)

        note = QLabel("The result and preview are filled with their colour, half transparent.", self)
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.addWidget(points)
        layout.addWidget(colors)
        layout.addWidget(note)
        layout.addStretch(1)
        self._shown = style
        self.show_style(style)
        self.point_size.valueChanged.connect(self._edited)
        self.point_icon.currentIndexChanged.connect(self._edited)
        for button in self.colors.values():
            button.colorChanged.connect(self._edited)

    def style(self) -> Style:
        """The style the controls show."""
        return Style(point_size=self.point_size.value(), point_icon=self.point_icon.currentData(),
                     **{name: button.color().name() for name, button in self.colors.items()})

    def show_style(self, style: Style) -> None:
        """Show `style`; `changed` fires once if it differs from what was shown."""
        for control in (self.point_size, self.point_icon, *self.colors.values()):
            control.blockSignals(True)
        self.point_size.setValue(style.point_size)
        self.point_icon.setCurrentIndex(self.point_icon.findData(style.point_icon))
        for name, button in self.colors.items():
            button.setColor(QColor(getattr(style, name)))
        for control in (self.point_size, self.point_icon, *self.colors.values()):
            control.blockSignals(False)
        self._edited()

    def _edited(self, *_: object) -> None:
        style = self.style()
        if style != self._shown:
            self._shown = style
            self.changed.emit(style)

