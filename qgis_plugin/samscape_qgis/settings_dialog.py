"""The samscape settings dialog: how the plugin reaches the engine."""

from __future__ import annotations

from qgis.gui import QgsFileWidget, QgsPasswordLineEdit
from qgis.PyQt.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from .settings import DEFAULT_COMMAND, EngineSettings


class SettingsDialog(QDialog):
    """Edits an EngineSettings; `value()` is the edited one once accepted."""

    def __init__(self, current: EngineSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("samscape settings")
        self.command = QgsFileWidget(self)
        self.command.setStorageMode(QgsFileWidget.StorageMode.GetFile)
        self.command.setFilePath(current.command)
        self.command.lineEdit().setPlaceholderText(DEFAULT_COMMAND)
        self.url = QLineEdit(current.url, self)
        self.url.setPlaceholderText("empty: the plugin starts its own engine")
        self.token = QgsPasswordLineEdit(self)
        self.token.setText(current.token)
        self.roots = QPlainTextEdit("\n".join(current.extra_roots), self)
        self.roots.setPlaceholderText("one folder per line, e.g. a data drive")
        self.roots.setMaximumHeight(80)

        form = QFormLayout()
        form.addRow("samscape command", self.command)
        form.addRow("Engine URL (attach)", self.url)
        form.addRow("Engine token (attach)", self.token)
        form.addRow("Extra folders", self.roots)
        note = QLabel("The plugin runs `samscape serve` with the command above (e.g. the samscape of "
                      "a virtual environment), or attaches to an engine you started at the URL. The engine "
                      "may read and write your home folder, the project's folder, the temporary "
                      "folder and the extra folders.", self)
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def value(self) -> EngineSettings:
        roots = tuple(line.strip() for line in self.roots.toPlainText().splitlines() if line.strip())
        return EngineSettings(command=self.command.filePath().strip() or DEFAULT_COMMAND,
                              url=self.url.text().strip().rstrip("/"), token=self.token.text().strip(),
                              extra_roots=roots)
