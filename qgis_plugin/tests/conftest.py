"""The plugin's tests run in real QGIS (Debian's python3-qgis, offscreen) against a real
`samscape serve`: the command on PATH, or SAMSCAPE_COMMAND.

Run with QGIS's Python, not the project's: `python3 -m pytest qgis_plugin/tests`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qgis.PyQt.QtCore import QEventLoop, QTimer  # noqa: E402
from qgis.testing import start_app  # noqa: E402

QGIS_APP = start_app()


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
