"""The map tools that take prompts: a foreground point, a background point, a box. Coordinates go
out in the canvas's CRS. While one of them is the canvas's tool, the dock's shortcuts (Tab, P, S,
C, Z, Ctrl/Cmd+Z) go to it, before QGIS's own (S toggles snapping, Ctrl+Z undoes an edit, Tab
moves the focus); with any other tool they are QGIS's again."""

from __future__ import annotations

from qgis.core import QgsPointXY, QgsRectangle
from qgis.gui import QgsMapCanvas, QgsMapMouseEvent, QgsMapTool
from qgis.PyQt.QtCore import QEvent, QObject, Qt, pyqtSignal
from qgis.PyQt.QtGui import QKeyEvent

FOREGROUND, BACKGROUND, BOX = "fg", "bg", "box"
TOOLS = (FOREGROUND, BACKGROUND, BOX)  # the order Tab cycles through
LABELS = {FOREGROUND: 1, BACKGROUND: 0}


def _code(key: Qt.Key | int) -> int:
    """A key as QKeyEvent.key() gives it (an int, in Qt 5 and Qt 6 alike)."""
    return key if isinstance(key, int) else key.value


SHORTCUTS = {_code(Qt.Key.Key_Tab): "next_tool", _code(Qt.Key.Key_P): "preview", _code(Qt.Key.Key_S): "save",
             _code(Qt.Key.Key_C): "clear", _code(Qt.Key.Key_Z): "undo"}
SHORTCUT_Z = _code(Qt.Key.Key_Z)
CONTROL = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.MetaModifier
OTHERS = CONTROL | Qt.KeyboardModifier.AltModifier


def shortcut_of(event: QKeyEvent) -> str | None:
    """The dock's action for a key: 'next_tool', 'preview', 'save', 'clear', 'undo', 'undo_save',
    or None for a key that is not the dock's (QGIS keeps it)."""
    modifiers = event.modifiers()
    if _code(event.key()) == SHORTCUT_Z and modifiers & CONTROL:
        others = Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier
        return None if modifiers & others else "undo_save"
    if modifiers & OTHERS:
        return None
    return SHORTCUTS.get(_code(event.key()))


class PromptTool(QgsMapTool):
    """A samscape map tool (`kind` fg, bg or box). Emits `hovered(point)` as the mouse moves,
    `left()` when it leaves the canvas or the tool is put down, `shortcut(name)` for the dock's keys."""

    hovered = pyqtSignal(QgsPointXY)
    left = pyqtSignal()
    shortcut = pyqtSignal(str)

    def __init__(self, canvas: QgsMapCanvas, kind: str) -> None:
        super().__init__(canvas)
        self.kind = kind
        self.setCursor(Qt.CursorShape.CrossCursor)

    def activate(self) -> None:
        super().activate()
        self.canvas().installEventFilter(self)

    def deactivate(self) -> None:
        self.canvas().removeEventFilter(self)
        self.left.emit()
        super().deactivate()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Take the dock's keys before QGIS's shortcuts and Qt's focus change see them: the key
        then comes to keyPressEvent as any other key (Tab is handed there directly)."""
        kind = event.type()
        if kind == QEvent.Type.ShortcutOverride and shortcut_of(event) is not None:
            event.accept()
            return True
        if kind == QEvent.Type.KeyPress and shortcut_of(event) == "next_tool":
            self.keyPressEvent(event)
            return True
        if kind == QEvent.Type.Leave:
            self.left.emit()
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - QGIS's name
        name = shortcut_of(event)
        if name is None or event.isAutoRepeat():
            event.ignore()
            return
        event.accept()
        self.shortcut.emit(name)

    def canvasMoveEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - QGIS's name
        self.hovered.emit(event.mapPoint())


class PointTool(PromptTool):
    """A foreground or background point where the left button is released."""

    clicked = pyqtSignal(QgsPointXY, int)  # the point, its label (1 foreground, 0 background)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - QGIS's name
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(event.mapPoint(), LABELS[self.kind])


class Drag:
    """A rectangle dragged with the left button on a map tool, in the canvas's CRS."""

    def __init__(self) -> None:
        self.start: QgsPointXY | None = None

    def press(self, event: QgsMapMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.start = event.mapPoint()

    def moved(self, event: QgsMapMouseEvent) -> QgsRectangle | None:
        """The rectangle so far (None: no drag under way)."""
        return None if self.start is None else QgsRectangle(self.start, event.mapPoint())

    def released(self, event: QgsMapMouseEvent) -> QgsRectangle | None:
        """The rectangle dragged when the left button is released (None: no drag ended; it may be
        empty)."""
        if event.button() != Qt.MouseButton.LeftButton or self.start is None:
            return None
        rect, self.start = QgsRectangle(self.start, event.mapPoint()), None
        return rect


class BoxTool(PromptTool):
    """A box dragged with the left button: `dragged(rect)` while it grows, `drawn(rect)` when the
    button is released (a box without width or height is dropped: `cancelled()`)."""

    dragged = pyqtSignal(QgsRectangle)
    drawn = pyqtSignal(QgsRectangle)
    cancelled = pyqtSignal()

    def __init__(self, canvas: QgsMapCanvas) -> None:
        super().__init__(canvas, BOX)
        self.drag = Drag()

    def canvasPressEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - QGIS's name
        self.drag.press(event)

    def canvasMoveEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - QGIS's name
        rect = self.drag.moved(event)
        if rect is None:
            super().canvasMoveEvent(event)
        else:
            self.dragged.emit(rect)

    def canvasReleaseEvent(self, event: QgsMapMouseEvent) -> None:  # noqa: N802 - QGIS's name
        rect = self.drag.released(event)
        if rect is None:
            return
        if rect.width() > 0 and rect.height() > 0:
            self.drawn.emit(rect)
        else:
            self.cancelled.emit()

    def deactivate(self) -> None:
        self.drag.start = None
        super().deactivate()


def make_tools(canvas: QgsMapCanvas) -> dict[str, PromptTool]:
    """The three tools by kind."""
    return {FOREGROUND: PointTool(canvas, FOREGROUND), BACKGROUND: PointTool(canvas, BACKGROUND),
            BOX: BoxTool(canvas)}
