"""The samscape dock: the engine's state (with Restart engine and Settings), and the Segmentation
tabs Input/Output (`source_panel.py` with `output_panel.py`), Prompts, Styles and Options
(`prompts_panel.py`, `styles_panel.py`, `options_panel.py`), tied to the canvas and the engine by
`segmentation.py`."""

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
from .models_panel import ModelsDialog
from .options_panel import OptionsPanel
from .output_panel import OutputPanel
from .prompts_panel import PromptsPanel
from .segmentation import Segmentation
from .source_panel import SourcePanel
from .styles_panel import StylesPanel


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


def scrolling(panel: QWidget, parent: QWidget) -> QScrollArea:
    """`panel` in a frameless scroll area, which gives word-wrapped lines the height they need
    (a tab page alone is squeezed to its minimum) and scrolls when the dock is short."""
    scroll = QScrollArea(parent)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(panel)
    return scroll


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
        self.models_button = QPushButton("Models…", box)
        self.models_button.setToolTip("Download, import and remove the engine's models")
        self.models_button.clicked.connect(lambda: self.open_models())
        self.models_dialog: ModelsDialog | None = None
        buttons = QHBoxLayout()
        buttons.addWidget(self.restart_button)
        buttons.addWidget(self.settings_button)
        buttons.addWidget(self.models_button)
        buttons.addStretch(1)
        box_layout.addWidget(self.status)
        box_layout.addLayout(buttons)
        layout.addWidget(box)
        self.tabs = QTabWidget(body)
        self.tabs.setStyleSheet("QTabBar::tab { padding: 4px 7px; }")  # four tabs in a narrow dock
        self.source_panel = SourcePanel()
        self.output_panel = OutputPanel(self.source_panel)
        self.source_panel.layout().insertWidget(1, self.output_panel)  # under the Input group
        self.prompts_panel = PromptsPanel()
        self.styles_panel = StylesPanel()
        self.options_panel = OptionsPanel()
        for panel, title in ((self.source_panel, "Input/Output"), (self.prompts_panel, "Prompts"),
                             (self.styles_panel, "Styles"), (self.options_panel, "Options")):
            self.tabs.addTab(scrolling(panel, self.tabs), title)
        layout.addWidget(self.tabs, 1)
        self.progress = ProgressBar(body)
        layout.addWidget(self.progress)
        self.segmentation = Segmentation(engine, canvas, self.source_panel, self.prompts_panel,
                                         self.output_panel, self, styles_panel=self.styles_panel,
                                         options_panel=self.options_panel)
        self.segmentation.session.progress.changed.connect(self.progress.show_progress)
        self.source_panel.models_requested.connect(self.open_models)
        self.setWidget(body)
        self.setMinimumWidth(280)
        for signal in (engine.starting, engine.ready, engine.failed, engine.stopped):
            signal.connect(self.refresh)
        self.refresh()

    def refresh(self, *_: object) -> None:
        self.status.setText(describe(self.engine))
        color = {FAILED: "#b00020", RUNNING: "#1b7f3b"}.get(self.engine.state, "")
        self.status.setStyleSheet(f"color: {color};" if color else "")
        self.restart_button.setEnabled(self.engine.state != STARTING)

    def open_models(self, model_id: str = "") -> ModelsDialog:
        """Show the Models dialog (one per dock), on `model_id` if given."""
        if self.models_dialog is None:
            self.models_dialog = ModelsDialog(self.engine, self)
            self.models_dialog.installed.connect(self.source_panel.model_installed)
        self.models_dialog.show()
        self.models_dialog.raise_()
        self.models_dialog.activateWindow()
        if model_id:
            self.models_dialog.focus(model_id)
        return self.models_dialog

    def close_segmentation(self) -> None:
        """Put the map tools down and take the rubber bands off the canvas (the plugin unloads)."""
        self.segmentation.close()
