"""The plugin object QGIS loads: menu and toolbar entries, the dock, and the engine's lifetime
(started when the dock first opens, so QGIS starts as fast as without the plugin; stopped when
the plugin unloads, which QGIS does on closing)."""

from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon

try:
    from qgis.PyQt.QtGui import QAction  # Qt 6 (QGIS 4)
except ImportError:
    from qgis.PyQt.QtWidgets import QAction  # Qt 5

from . import settings
from .copilot_dock import CopilotDock
from .dock import SamscapeDock
from .engine import FAILED, STOPPED, Engine
from .processing import SamscapeProvider
from .settings_dialog import SettingsDialog

MENU = "samscape"
ICON = Path(__file__).resolve().parent / "icon.png"


class SamscapePlugin:
    """samscape in QGIS. `engine` and `dock` exist between initGui and unload."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.engine: Engine | None = None
        self.dock: SamscapeDock | None = None
        self.copilot: CopilotDock | None = None
        self.actions: list[QAction] = []
        self.provider: SamscapeProvider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS's name (qgis_process calls it alone)
        """Add the Processing provider "samscape" (once)."""
        if self.provider is None:
            self.provider = SamscapeProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS's name
        self.initProcessing()
        window = self.iface.mainWindow()
        self.engine = Engine(settings.load(), parent=window)
        self.engine.failed.connect(self._show_failure)
        self.dock = SamscapeDock(self.engine, self.iface.mapCanvas(), window)
        self.dock.restart_requested.connect(self.restart_engine)
        self.dock.settings_requested.connect(self.edit_settings)
        self.dock.hide()
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

        show = QAction(QIcon(str(ICON)), "samscape", window)
        show.setObjectName("samscape_show")
        show.setToolTip("samscape: Segment Anything on rasters")
        show.triggered.connect(self.show_dock)
        restart = QAction("Restart engine", window)
        restart.setObjectName("samscape_restart")
        restart.triggered.connect(self.restart_engine)
        configure = QAction("Settings…", window)
        configure.setObjectName("samscape_settings")
        configure.triggered.connect(self.edit_settings)
        models = QAction("Models…", window)
        models.setObjectName("samscape_models")
        models.setToolTip("samscape: download, import and remove models")
        models.triggered.connect(self.show_models)
        copilot = QAction("Encoder Copilot…", window)
        copilot.setObjectName("samscape_copilot")
        copilot.setToolTip("Plan and run the encoding of a raster layer into a feature folder")
        copilot.triggered.connect(self.show_copilot)
        self.iface.addToolBarIcon(show)
        for action in (show, copilot, models, restart, configure):
            self.iface.addPluginToMenu(MENU, action)
        self.actions = [show, copilot, models, restart, configure]

    def show_dock(self) -> None:
        """Show the dock in front; the engine starts if it is not running (first show, or
        after a failure, with the settings as they are now)."""
        self.dock.show()
        self.dock.raise_()
        if self.engine.state in (STOPPED, FAILED):
            self.restart_engine()

    def show_models(self) -> None:
        """The Models dialog; the engine starts if it is not running."""
        self.dock.open_models()
        if self.engine.state in (STOPPED, FAILED):
            self.restart_engine()

    def show_copilot(self) -> None:
        """Show the Encoder Copilot (made on first use); the engine starts if it is not running."""
        if self.copilot is None:
            self.copilot = CopilotDock(self.engine, self.iface.mapCanvas(), self.iface.mainWindow())
            self.copilot.encoded.connect(self.open_folder)
            self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.copilot)
            if not self.dock.isFloating():  # one tab each, not two squeezed docks
                self.iface.mainWindow().tabifyDockWidget(self.dock, self.copilot)
        self.copilot.show()
        self.copilot.raise_()
        if self.engine.state in (STOPPED, FAILED):
            self.restart_engine()

    def open_folder(self, folder: str) -> None:
        """Open a feature folder (one the Copilot encoded) in the Segmentation dock."""
        self.show_dock()
        self.dock.tabs.setCurrentIndex(0)
        self.dock.segmentation.load(folder)

    def restart_engine(self) -> None:
        """(Re)start the engine with the settings as they are now."""
        self.engine.settings = settings.load()
        self.engine.restart()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(settings.load(), self.iface.mainWindow())
        if dialog.exec():
            settings.save(dialog.value())
            self.restart_engine()

    def _show_failure(self, message: str) -> None:
        self.iface.messageBar().pushMessage("samscape", message, level=Qgis.MessageLevel.Critical)

    def unload(self) -> None:
        """Stop the engine (waiting a few seconds at most) and remove what initGui added."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.engine is not None:
            self.engine.stop(wait=True)
            self.engine.deleteLater()
            self.engine = None
        for action in self.actions:
            self.iface.removePluginMenu(MENU, action)
            self.iface.removeToolBarIcon(action)
            action.deleteLater()
        self.actions = []
        if self.copilot is not None:
            self.copilot.close_copilot()
            self.iface.removeDockWidget(self.copilot)
            self.copilot.deleteLater()
            self.copilot = None
        if self.dock is not None:
            self.dock.close_segmentation()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
