"""Encode now: the Processing algorithm `samscape:encode` run with the Copilot's settings file, as
a QgsProcessingAlgRunnerTask in QGIS's task manager (in the background, with its progress and
cancel in QGIS's status bar too), so its result can go straight to the samscape panel."""

from __future__ import annotations

import json
import os
import tempfile

from qgis.core import (
    QgsApplication,
    QgsProcessingAlgRunnerTask,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProject,
)
from qgis.PyQt.QtCore import QObject, pyqtSignal

from .client import one_line

ALGORITHM = "samscape:encode"


class ErrorFeedback(QgsProcessingFeedback):
    """Keeps the last error the algorithm reported (it runs on the task's thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.error = ""

    def reportError(self, error: str, fatalError: bool = False) -> None:  # noqa: N802, N803 - QGIS's names
        self.error = error
        super().reportError(error, fatalError)


class EncodeRun(QObject):
    """One run of Encode raster on `raster` (a file GDAL reads) with `settings` (the plan's settings
    JSON) into `folder`. `progressed(percent)` while it runs; `finished(ok, results, message)` once,
    with the algorithm's outputs, or the one-line error (or the cancel note) when not ok."""

    progressed = pyqtSignal(float)
    finished = pyqtSignal(bool, dict, str)

    def __init__(self, raster: str, settings: dict, folder: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.raster, self.settings, self.folder = raster, settings, folder
        self.running = False
        self._task: QgsProcessingAlgRunnerTask | None = None
        self._context = QgsProcessingContext()
        self._feedback = ErrorFeedback()
        self._settings_file = ""

    def start(self) -> str | None:
        """Start in the background; the reason (one line with the fix) when it cannot start."""
        algorithm = QgsApplication.processingRegistry().createAlgorithmById(ALGORITHM)
        if algorithm is None:
            return (f"Processing has no {ALGORITHM}; enable the samscape plugin in Plugins ▸ Manage and "
                    f"Install Plugins, or reinstall it with `samscape qgis install`")
        handle, self._settings_file = tempfile.mkstemp(prefix="samscape-copilot-", suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(self.settings, file, indent=2)
        self._context.setProject(QgsProject.instance())
        parameters = {"INPUT": self.raster, "SETTINGS": self._settings_file, "OUTPUT": self.folder}
        task = QgsProcessingAlgRunnerTask(algorithm, parameters, self._context, self._feedback)
        task.setDescription(f"samscape: encoding {os.path.basename(self.raster)}")
        task.progressChanged.connect(self.progressed)
        task.executed.connect(self._executed)
        self._task, self.running = task, True
        QgsApplication.taskManager().addTask(task)
        return None

    def cancel(self) -> None:
        """Stop the run (the folder keeps the chips encoded so far)."""
        if self.running and self._task is not None:
            self._task.cancel()

    def _executed(self, ok: bool, results: dict) -> None:
        self._task, self.running = None, False  # the task manager deletes the task
        if self._settings_file:
            try:
                os.remove(self._settings_file)
            except OSError:
                pass
        message = "" if ok else one_line(self._feedback.error or (
            "Encode raster stopped without a message; see the Processing tab of the log panel"))
        self.finished.emit(ok, dict(results or {}), message)
