"""The Prompts tab: the tool (foreground point, background point, box), the prompt
buttons (Undo, Clear, Save, Undo save) and what the session holds now."""

from __future__ import annotations

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .labels import status_label
from .maptools import BACKGROUND, BOX, FOREGROUND

TOOL_TITLES = {FOREGROUND: "Foreground", BACKGROUND: "Background", BOX: "Box"}
TOOL_TIPS = {FOREGROUND: "Click on the object: a foreground point",
             BACKGROUND: "Click beside the object: a background point",
             BOX: "Drag a box around the object"}
HELP = ("On the map (with a samscape tool): Tab next tool · P preview · Z undo · C clear · "
        "S save · Ctrl+Z undo the last save")


def describe_prompts(session: dict | None) -> str:
    """'1 foreground, 0 background · 1 polygon, score 0.912' (scene.js's drawSession)."""
    if session is None:
        return "Load a feature folder to start."
    points = session.get("points") or []
    fg = sum(1 for p in points if p["label"] == 1)
    parts = [f"{fg} foreground, {len(points) - fg} background{', 1 box' if session.get('box') else ''}"]
    result = session.get("result")
    if result:
        count = len(result["features"])
        parts.append(f"{count} polygon{'' if count == 1 else 's'}, score {result['score']:.3f}")
    return " · ".join(parts)


class PromptsPanel(QWidget):
    """The Prompts tab; `tool_chosen(kind)` when a tool button is pressed."""

    tool_chosen = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        tools = QGroupBox("Tool", self)
        self.tool_buttons: dict[str, QToolButton] = {}
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)  # so no tool is shown when QGIS's own tool is on
        row = QHBoxLayout()
        for kind, title in TOOL_TITLES.items():
            button = QToolButton(tools)
            button.setText(title)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setObjectName(f"tool_{kind}")
            button.setToolTip(TOOL_TIPS[kind])
            button.setCheckable(True)
            button.clicked.connect(lambda _=False, k=kind: self.tool_chosen.emit(k))
            self._group.addButton(button)
            self.tool_buttons[kind] = button
            row.addWidget(button)
        tools_layout = QVBoxLayout(tools)
        tools_layout.addLayout(row)

        actions = QGroupBox("Object", self)
        self.undo_button = QPushButton("Undo (Z)", actions)
        self.clear_button = QPushButton("Clear (C)", actions)
        self.save_button = QPushButton("Save (S)", actions)
        self.undo_save_button = QPushButton("Undo save (Ctrl+Z)", actions)
        grid = QGridLayout()
        grid.addWidget(self.undo_button, 0, 0)
        grid.addWidget(self.clear_button, 0, 1)
        grid.addWidget(self.save_button, 1, 0)
        grid.addWidget(self.undo_save_button, 1, 1)
        self.status = status_label(actions, "prompt_status")
        self.output_status = status_label(actions, "prompt_output_status")
        actions_layout = QVBoxLayout(actions)
        actions_layout.addLayout(grid)
        actions_layout.addWidget(self.status)
        actions_layout.addWidget(self.output_status)

        help_label = QLabel(HELP, self)
        help_label.setWordWrap(True)
        help_label.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.addWidget(tools)
        layout.addWidget(actions)
        layout.addWidget(help_label)
        layout.addStretch(1)
        self.show_session(None)

    def show_tool(self, kind: str | None) -> None:
        """Check the button of `kind` (None: none, another map tool is on)."""
        for name, button in self.tool_buttons.items():
            button.setChecked(name == kind)

    def show_session(self, session: dict | None) -> None:
        self.status.setText(describe_prompts(session))
        for button in (self.undo_button, self.clear_button, self.save_button, self.undo_save_button,
                       *self.tool_buttons.values()):
            button.setEnabled(session is not None)
