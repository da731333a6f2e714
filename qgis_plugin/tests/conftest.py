"""The plugin's tests run in real QGIS (Debian's python3-qgis, offscreen) against a real
`samscape serve`: the command on PATH, or SAMSCAPE_COMMAND.

Run with QGIS's Python, not the project's: `python3 -m pytest qgis_plugin/tests`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qgis.PyQt.QtCore import QEventLoop, QTimer  # noqa: E402
from qgis.testing import start_app  # noqa: E402

QGIS_APP = start_app()

# Imported once, at collection: test_plugin's unloadPlugin drops samscape_qgis from sys.modules, and
# a later import would make classes unequal to those the test modules imported.
from samscape_qgis.dock import SamscapeDock  # noqa: E402
from samscape_qgis.engine import Engine, command_line  # noqa: E402
from samscape_qgis.settings import EngineSettings  # noqa: E402


class Recorder:
    """Records every emission of a signal (connect it before the action that emits)."""

    def __init__(self, signal) -> None:
        self.calls: list[tuple] = []
        signal.connect(lambda *args: self.calls.append(args))

    def wait(self, timeout_s: float, count: int = 1) -> tuple:
        """The arguments of the `count`-th emission, spinning Qt's event loop until it came."""
        wait_until(lambda: len(self.calls) >= count, timeout_s,
                   f"signal not emitted {count} time(s) within {timeout_s} s (got {self.calls})")
        return self.calls[count - 1]


def wait_until(predicate: Callable[[], bool], timeout_s: float, message: str = "") -> None:
    """Spin Qt's event loop (no sleeping) until `predicate()` or fail after `timeout_s`."""
    if predicate():
        return
    loop = QEventLoop()
    poll = QTimer(interval=10, timeout=lambda: predicate() and loop.quit())
    deadline = QTimer(singleShot=True, timeout=loop.quit)
    poll.start()
    deadline.start(int(timeout_s * 1000))
    loop.exec()
    poll.stop()
    deadline.stop()
    assert predicate(), message or f"condition not met within {timeout_s} s"


def spin(seconds: float) -> None:
    """Run Qt's event loop for `seconds`."""
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


@pytest.fixture(scope="session")
def samscape_command() -> str:
    command = os.environ.get("SAMSCAPE_COMMAND") or shutil.which("samscape")
    assert command, ("no samscape command: install samscape where these tests run (on PATH) "
                     "or set SAMSCAPE_COMMAND to its path")
    return command


@pytest.fixture
def iface():
    """QGIS's interface as `qgis.testing.mocked.get_iface` builds it (a Mock with QGIS's
    interface as its spec, a real main window and map canvas), with a real message bar, and
    docks, toolbar icons and plugin menus that land in the real window."""
    from unittest import mock

    from qgis.gui import QgisInterface, QgsMapCanvas, QgsMessageBar
    from qgis.PyQt.QtWidgets import QMainWindow

    window = QMainWindow()
    window.resize(1000, 700)
    canvas = QgsMapCanvas(window)
    window.setCentralWidget(canvas)
    bar = QgsMessageBar(window)
    toolbar = window.addToolBar("Plugins")
    menus: dict[str, object] = {}

    def menu(name: str):
        if name not in menus:
            menus[name] = window.menuBar().addMenu(name)
        return menus[name]

    iface = mock.Mock(spec=QgisInterface)
    iface.mainWindow.return_value = window
    iface.mapCanvas.return_value = canvas
    iface.messageBar.return_value = bar
    iface.addDockWidget.side_effect = window.addDockWidget
    iface.removeDockWidget.side_effect = window.removeDockWidget
    iface.addToolBarIcon.side_effect = toolbar.addAction
    iface.removeToolBarIcon.side_effect = toolbar.removeAction
    iface.addPluginToMenu.side_effect = lambda name, action: menu(name).addAction(action)
    iface.removePluginMenu.side_effect = lambda name, action: menu(name).removeAction(action)
    iface.menus = menus
    iface.toolbar = toolbar
    window.show()
    yield iface
    window.close()
    window.deleteLater()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests save what they show (SAMSCAPE_QGIS_SCREENSHOTS, else a temporary folder)."""
    folder = os.environ.get("SAMSCAPE_QGIS_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A folder of the test module's own: the engine's root and the demo scene's parent."""
    return tmp_path_factory.mktemp(request.module.__name__)


@pytest.fixture(scope="module")
def demo(root: Path, samscape_command: str) -> dict:
    """`samscape demo --size 512`: scene.tif (EPSG:32633), scene_truth.gpkg, the feature folder."""
    run = subprocess.run([*command_line(samscape_command), "demo", "--out", str(root / "demo"),
                          "--size", "512", "--json", "--quiet"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def start_engine(samscape_command: str, roots: list[str], request: pytest.FixtureRequest):
    """An engine started while the module's demo scene is made (both import torch: it saves time)."""
    engine = Engine(EngineSettings(command=samscape_command), roots=roots)
    ready = Recorder(engine.ready)
    engine.start()
    request.getfixturevalue("demo")
    ready.wait(90)
    return engine


@pytest.fixture(scope="module")
def engine(samscape_command: str, root: Path, request: pytest.FixtureRequest):
    """One engine for the module, with its root."""
    engine = start_engine(samscape_command, [str(root)], request)
    yield engine
    engine.stop(wait=True)


@pytest.fixture
def dock(iface, engine):
    """The dock in QGIS's window, on its canvas, which shows the project's layers (as in QGIS), on
    a project in EPSG:32633."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsProject
    from qgis.gui import QgsLayerTreeMapCanvasBridge
    from qgis.PyQt.QtCore import Qt

    utm = QgsCoordinateReferenceSystem("EPSG:32633")
    canvas = iface.mapCanvas()
    project = QgsProject.instance()
    bridge = QgsLayerTreeMapCanvasBridge(project.layerTreeRoot(), canvas)
    project.setCrs(utm)
    canvas.setDestinationCrs(utm)
    dock = SamscapeDock(engine, canvas, iface.mainWindow())
    iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.show()
    dock.resize(400, dock.height())
    yield dock
    dock.close_segmentation()
    project.clear()
    del bridge
    dock.deleteLater()
