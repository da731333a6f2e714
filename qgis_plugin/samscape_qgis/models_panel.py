"""The Models dialog: the engine's catalogue and store (`GET /api/models`) with each model's
state, family and size on disk; Download (a job on the engine, polled), Import a local folder,
Remove. Every call returns at once; one action runs at a time, and the list is read again after
each. The dialog is not modal: QGIS stays usable while a model downloads."""

from __future__ import annotations

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import Qt, QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .client import Client, Reply
from .engine import RUNNING, Engine
from .labels import say, status_label

POLL_MS = 300
COLUMNS = ("Model", "Family", "Status", "Size", "Description")
FAMILIES = {"sam": "SAM", "sam2": "SAM 2"}
REMOVABLE = ("downloaded", "imported", "broken")


def size_text(size: int | None) -> str:
    """A size on disk in MB or GB; '–' when the model has no files on this machine."""
    if size is None:
        return "–"
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.1f} MB"


class ModelsDialog(QDialog):
    """Model management through `engine`. `focus(model_id)` selects a model (or, when the engine
    does not know it, prepares its import). `changed()`: a model was downloaded, imported or
    removed; `installed(model_id)`: that model was downloaded or imported."""

    changed = pyqtSignal()
    installed = pyqtSignal(str)

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("samscape_models")
        self.setWindowTitle("samscape models")
        self.engine = engine
        self.client: Client | None = None
        self.models: dict[str, dict] = {}
        self.busy = False
        self._listings = 0  # GET /api/models in flight
        self._select, self._explain = "", False  # a model to select once listed; say how to get it
        self._job: str | None = None
        self._poll = QTimer(self, interval=POLL_MS, singleShot=True, timeout=self._poll_job)

        self.table = QTreeWidget(self)
        self.table.setObjectName("models_table")
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setUniformRowHeights(True)
        self.table.setAlternatingRowColors(True)
        self.table.currentItemChanged.connect(lambda *_: self._selection_changed())
        self.details = status_label(self, "model_details")
        self.download_button = QPushButton("Download", self)
        self.download_button.setToolTip("Fetch the selected model's pinned weights (needs internet)")
        self.download_button.clicked.connect(self.download)
        self.remove_button = QPushButton("Remove…", self)
        self.remove_button.setToolTip("Delete the selected model's weights from the engine's store")
        self.remove_button.clicked.connect(self.confirm_remove)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("models_progress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.progress.hide()
        self.status = status_label(self, "models_status")
        self.confirmation: QMessageBox | None = None

        imports = QGroupBox("Import a model folder (offline)", self)
        self.import_folder = QgsFileWidget(imports)
        self.import_folder.setObjectName("import_folder")
        self.import_folder.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.import_folder.setDialogTitle("A transformers SAM / SAM 2 folder (config.json + *.safetensors)")
        self.import_folder.lineEdit().setPlaceholderText("a folder with config.json and *.safetensors")
        self.import_id = QLineEdit(imports)
        self.import_id.setObjectName("import_id")
        self.import_id.setPlaceholderText("its id in the store, e.g. my-sam")
        self.import_button = QPushButton("Import", imports)
        self.import_button.clicked.connect(self.import_model)
        id_row = QHBoxLayout()
        id_row.addWidget(self.import_id, 1)
        id_row.addWidget(self.import_button)
        import_form = QFormLayout(imports)
        import_form.addRow("Folder", self.import_folder)
        import_form.addRow("Model id", id_row)

        actions = QHBoxLayout()
        for button in (self.download_button, self.remove_button, self.refresh_button):
            actions.addWidget(button)
        actions.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.details)
        layout.addLayout(actions)
        layout.addWidget(imports)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(close)
        self.resize(760, 520)

        engine.ready.connect(lambda _url: self._engine_changed())
        engine.stopped.connect(self._engine_changed)
        engine.failed.connect(lambda _message: self._engine_changed())
        self._engine_changed()

    # the list

    def _engine_changed(self) -> None:
        self.client = self.engine.client() if self.engine.state == RUNNING else None
        if self._job is not None:
            self._finish_action("the samscape engine restarted during the download: Download again", "error")
        if self.client is None:
            self.models = {}
            self.table.clear()
            say(self.status, "the samscape engine is not running; start it with Restart engine in the "
                "samscape panel", "error")
            self._enable()
        else:
            self.refresh()

    def refresh(self) -> None:
        """Read the catalogue and the store again."""
        if self.client is not None:
            self._listings += 1
            self.client.get("/api/models").then(self._listed)

    @property
    def listing(self) -> bool:
        """The list is being read again."""
        return self._listings > 0

    def _listed(self, reply: Reply) -> None:
        self._listings -= 1
        if not reply.ok:
            say(self.status, reply.error, "error")
            return
        current = self.current_id()
        self.models = {m["id"]: m for m in reply.data["models"]}
        self.table.clear()
        for model in self.models.values():
            item = QTreeWidgetItem(self.table, [
                model["id"], FAMILIES.get(model["family"], model["family"] or "?"), model["status"],
                size_text(model.get("size_bytes")),
                model["description"] + (" [test model]" if model["test_only"] else "")])
            item.setData(0, Qt.ItemDataRole.UserRole, model["id"])
            item.setToolTip(4, model["problem"] or model["description"])
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if current == model["id"]:
                self.table.setCurrentItem(item)
        for column in range(len(COLUMNS) - 1):
            self.table.resizeColumnToContents(column)
        self._selection_changed()
        if self._select:
            self._apply_select()

    def row(self, model_id: str) -> dict | None:
        """The engine's JSON for `model_id` as last listed, or None."""
        return self.models.get(model_id)

    def current_id(self) -> str:
        item = self.table.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else ""

    def focus(self, model_id: str) -> None:
        """Select `model_id`; prepare its import (and say how to get it) when it is missing."""
        self.import_id.setText(model_id)
        self._select, self._explain = model_id, True
        if self.models:
            self._apply_select()

    def _apply_select(self) -> None:
        model_id, explain = self._select, self._explain
        self._select, self._explain = "", False
        for index in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(index)
            if item.data(0, Qt.ItemDataRole.UserRole) == model_id:
                self.table.setCurrentItem(item)
        model = self.row(model_id)
        if not explain:
            return
        if model is None:
            say(self.status, f"model {model_id!r} is not in this engine's catalogue: choose its folder "
                "(config.json + *.safetensors) and Import it", "warn")
        elif model["status"] == "not downloaded":
            say(self.status, f"model {model_id!r} is not on this machine: Download it, or Import a "
                "folder holding it", "warn")

    def _selection_changed(self) -> None:
        model = self.row(self.current_id())
        self.details.setText(model["problem"] or model["description"] if model else "")
        self._enable()

    def _enable(self) -> None:
        model = self.row(self.current_id())
        idle = self.client is not None and not self.busy
        self.download_button.setEnabled(idle and model is not None and model["status"] == "not downloaded"
                                        and bool(model["repository"]))
        self.remove_button.setEnabled(idle and model is not None and model["status"] in REMOVABLE)
        self.import_button.setEnabled(idle)
        self.refresh_button.setEnabled(self.client is not None)

    # actions

    def _start_action(self, line: str) -> None:
        self.busy = True
        self.progress.setRange(0, 0)
        self.progress.show()
        say(self.status, line)
        self._enable()

    def _finish_action(self, line: str, level: str, installed: str = "") -> None:
        self._poll.stop()
        self._job = None
        self.busy = False
        self.progress.hide()
        say(self.status, line, level)
        self._enable()
        self.refresh()
        if level == "ok":
            self.changed.emit()
        if installed:
            self.installed.emit(installed)

    def download(self) -> None:
        """Start downloading the selected model on the engine, then follow its job."""
        model_id = self.current_id()
        if self.client is None or self.busy or not model_id:
            return
        self._start_action(f"Downloading {model_id}…")
        self.client.post(f"/api/models/{model_id}/download").then(
            lambda reply: self._download_started(model_id, reply))

    def _download_started(self, model_id: str, reply: Reply) -> None:
        if not reply.ok:
            self._finish_action(reply.error, "error")
            return
        self._job = str(reply.data["id"])
        self._poll.start()

    def _poll_job(self) -> None:
        job = self._job
        if job is None or self.client is None:
            return
        self.client.get(f"/api/jobs/{job}").then(lambda reply: self._job_state(job, reply))

    def _job_state(self, job: str, reply: Reply) -> None:
        if job != self._job:
            return
        if not reply.ok:
            self._finish_action(reply.error, "error")
        elif reply.data["state"] == "failed":
            self._finish_action(reply.data["error"] or "the download failed", "error")
        elif reply.data["state"] == "done":
            self._finish_action(f"downloaded {reply.data['model']}", "ok", reply.data["model"])
        else:
            if reply.data.get("total"):
                self.progress.setRange(0, int(reply.data["total"]))
                self.progress.setValue(int(reply.data["done"]))
            self._poll.start()

    def import_model(self) -> None:
        """Copy the chosen folder into the engine's store under the id given."""
        folder, model_id = self.import_folder.filePath().strip(), self.import_id.text().strip()
        if self.client is None or self.busy:
            return
        if not folder or not model_id:
            say(self.status, "choose the model's folder and give it an id, then Import", "error")
            return
        self._select = model_id
        self._start_action(f"Importing {model_id}…")
        self.client.post("/api/models/import", {"path": folder, "id": model_id}).then(
            lambda reply: self._finish_action(f"imported {model_id}", "ok", model_id) if reply.ok
            else self._finish_action(reply.error, "error"))

    def confirm_remove(self) -> None:
        """Ask, then remove the selected model from the engine's store."""
        model_id = self.current_id()
        if self.client is None or self.busy or not model_id:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove model",
                          f"Delete the weights of {model_id} from the engine's model store?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("confirm_remove")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _: self._confirmed(
            model_id, box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Yes))
        self.confirmation = box
        box.open()

    def _confirmed(self, model_id: str, yes: bool) -> None:
        self.confirmation = None
        if not yes or self.client is None or self.busy:
            return
        self._start_action(f"Removing {model_id}…")
        self.client.delete(f"/api/models/{model_id}").then(
            lambda reply: self._finish_action(
                f"removed {model_id}" if reply.ok else reply.error, "ok" if reply.ok else "error"))
