"""Status lines of the dock: word-wrapped, selectable, coloured by level."""

from __future__ import annotations

from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QLabel, QWidget

LEVEL_COLORS = {"ok": "#1b7f3b", "warn": "#9a6700", "error": "#b00020"}


def status_label(parent: QWidget, name: str) -> QLabel:
    """An empty status line named `name` (for findChild)."""
    label = QLabel(parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def say(label: QLabel, text: str, level: str = "") -> None:
    """Show `text` in `label`, coloured by `level` ('ok', 'warn', 'error' or '')."""
    label.setText(text)
    color = LEVEL_COLORS.get(level, "")
    label.setStyleSheet(f"color: {color};" if color else "")
