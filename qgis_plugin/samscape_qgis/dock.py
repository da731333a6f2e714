"""The samscape dock: the engine's state (with Restart engine and Settings), and the Segmentation
tabs Input/Output and Prompts (`source_panel.py`, `prompts_panel.py`), tied to the canvas and the
engine by `segmentation.py`."""

from __future__ import annotations

from qgis.gui import QgsMapCanvas
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QDockWidget,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .engine import FAILED, RUNNING, STARTING, Engine
from .live import ProgressBar
from .prompts_panel import PromptsPanel
from .segmentation import Segmentation
from .source_panel import SourcePanel


def describe(engine: Engine) -> str:
    """The engine's state in a line for the dock."""
    if engine.state == STARTING:
        return "Starting the samscape engine…" if not engine.settings.attach else (
            f"Connecting to the samscape engine at {engine.settings.url}…")
    if engine.state == RUNNING:
        how = "attached at" if engine.settings.attach else "running at"
        return f"samscape {engine.version} {how} {engine.url}"
    if engine.state == FAILED:
        return engine.message
    return "Stopped. It starts when this panel opens, or with Restart engine."


class SamscapeDock(QDockWidget):
    """The dock: an 'Engine' box with the state, Restart engine and Settings buttons, and the
    Segmentation tabs working on `canvas`."""

    restart_requested = pyqtSignal()
    settings_requested = pyqtSignal()

    def __init__(self, engine: Engine, canvas: QgsMapCanvas, parent: QWidget | None = None) -> None:
        super().__init__("samscape", parent)
        self.setObjectName("samscape_dock")
        self.engine = engine
        body = QWidget(self)
        layout = QVBoxLayout(body)
        box = QGroupBox("Engine", body)
        box_layout = QVBoxLayout(box)
        self.status = QLabel(box)
        self.status.setObjectName("engine_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.restart_button = QPushButton("Restart engine", box)
        self.restart_button.clicked.connect(self.restart_requested)
        self.settings_button = QPushButton("Settings…", box)
        self.settings_button.clicked.connect(self.settings_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.restart_button)
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)
        box_layout.addWidget(self.status)
        box_layout.addLayout(buttons)
        layout.addWidget(box)
        self.tabs = QTabWidget(body)
        self.source_panel = SourcePanel(self.tabs)
        self.prompts_panel = PromptsPanel(self.tabs)
        self.tabs.addTab(self.source_panel, "Input/Output")
        self.tabs.addTab(self.prompts_panel, "Prompts")
        layout.addWidget(self.tabs, 1)
        self.progress = ProgressBar(body)
        layout.addWidget(self.progress)
        self.segmentation = Segmentation(engine, canvas, self.source_panel, self.prompts_panel, self)
        self.segmentation.session.progress.changed.connect(self.progress.show_progress)
        scroll = QScrollArea(self)  # lets word-wrapped text take the height it needs
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self.setWidget(scroll)
        self.setMinimumWidth(280)
        for signal in (engine.starting, engine.ready, engine.failed, engine.stopped):
            signal.connect(self.refresh)
        self.refresh()

    def refresh(self, *_: object) -> None:
        self.status.setText(describe(self.engine))
        color = {FAILED: "#b00020", RUNNING: "#1b7f3b"}.get(self.engine.state, "")
        self.status.setStyleSheet(f"color: {color};" if color else "")
        self.restart_button.setEnabled(self.engine.state != STARTING)

    def close_segmentation(self) -> None:
        """Put the map tools down and take the rubber bands off the canvas (the plugin unloads)."""
        self.segmentation.close()
