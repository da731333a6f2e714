"""Where saves go, as the Output group chose: a new GeoPackage or a file layer of the project is
written by the engine (the same locking and formats as the CLI; the QGIS layer is reloaded after each
save and undo); any other editable polygon layer (memory, PostGIS, ...) is written by QGIS's edit
buffer (`edit_buffer.py`) from the rows the engine answers in that layer's CRS."""

from __future__ import annotations

import os

from qgis.core import QgsProviderRegistry, QgsVectorLayer
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, pyqtSignal

from . import edit_buffer, project_layers
from .crs import to_engine
from .output_panel import OutputPanel
from .session import ERROR, OK, SegmentationSession

# The extensions of the layers the engine's sessions write (samscape/vector/layers.py DRIVERS)
ENGINE_FORMATS = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".parquet", ".geoparquet")


def engine_path(layer: QgsVectorLayer) -> str:
    """The engine's name of the file layer `layer` ('file.gpkg:layer', 'file.shp', ...), '' when the
    engine cannot write it (another provider, or a format it does not write)."""
    if layer.providerType() != "ogr":
        return ""
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path") or ""
    if os.path.splitext(path)[1].lower() not in ENGINE_FORMATS or not os.path.isfile(path):
        return ""
    if not path.lower().endswith(".gpkg"):
        return path
    name = parts.get("layerName") or ""
    if not name:  # 'file.gpkg' alone: QGIS shows its only layer
        provider = layer.dataProvider()
        names = [s.split(provider.sublayerSeparator())[1] for s in provider.subLayers()]
        name = names[0] if len(names) == 1 else ""
    return f"{path}:{name}" if name else ""


class Output(QObject):
    """The save target of `session`, following `panel`: Save and Undo save go through here."""

    message = pyqtSignal(str, str, str)  # 'output', a line, its level (as the session's)

    def __init__(self, session: SegmentationSession, panel: OutputPanel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.panel = panel
        self.layer: QgsVectorLayer | None = None  # the project's layer chosen; None: New GeoPackage…
        self.file = ""  # the engine's name of `layer` when the engine writes it
        self.refusal = ""  # why `layer` cannot take saves ('' : it can)
        self._accepted = ""  # the output the engine last accepted for this session
        self._groups: list[str] = []  # saves put in `layer`'s edit buffer, oldest first
        self._following = True
        panel.output_chosen.connect(self._file_chosen)
        panel.layer_chosen.connect(self._layer_chosen)
        session.output_changed.connect(lambda _: setattr(self, "_accepted", session.output))
        session.reset.connect(lambda: setattr(self, "_accepted", ""))
        session.saved.connect(self._written)
        session.save_undone.connect(self._written)
        session.taken.connect(self._taken)

    def close(self) -> None:
        """Follow the panel no more (the dock is going: the project's layers may go next); once."""
        if self._following:
            self._following = False
            self.panel.output_chosen.disconnect(self._file_chosen)
            self.panel.layer_chosen.disconnect(self._layer_chosen)

    def _say(self, text: str, level: str) -> None:
        self.message.emit("output", text, level)

    def path_for(self, folder: str) -> str:
        """What the engine saves to for a load of `folder` ('' : QGIS writes the chosen layer)."""
        default = self.panel.output_for(folder)
        return default if self.layer is None else self.file

    def _file_chosen(self, path: str) -> None:
        if self.layer is None:
            self.session.set_output(path)

    def _layer_chosen(self, layer: QgsVectorLayer | None) -> None:
        if layer is self.layer:
            return
        self.layer, self.file, self.refusal, self._groups = layer, "", "", []
        self.session.output_elsewhere = False
        if layer is None:
            path = self.panel.output.filePath().strip()
            if path:
                self.session.set_output(path)
            return
        self.file = engine_path(layer)
        if self.file:
            self.session.set_output(self.file)
            return
        self.session.output_elsewhere = True
        self.refusal = edit_buffer.prepare(layer)
        if self.refusal:
            self._say(self.refusal, ERROR)
        else:
            self._say(f"saving to layer {layer.name()} ({layer.crs().authid() or 'its CRS'}) through its "
                      "edit buffer: Save Layer Edits in QGIS keeps them", OK)

    def save(self) -> None:
        """Save the current result as one group into the chosen output."""
        layer = self.layer
        if layer is None or self.session.session is None:
            self.session.save()  # nothing is loaded: it does nothing
        elif self.file:
            if self._accepted != self.file:
                self._say(f"the engine did not accept layer {layer.name()} (see its message); choose "
                          "another layer or New GeoPackage…", ERROR)
            elif layer.isModified():
                self._say(f"layer {layer.name()} has unsaved edits in QGIS; save or discard them, then "
                          "save again", ERROR)
            else:
                self.session.save()
        elif self.refusal:
            self._say(self.refusal, ERROR)
        else:
            self.session.take(to_engine(layer.crs()))

    def undo_save(self) -> None:
        """Remove the last save from the chosen output: exactly its group."""
        layer = self.layer
        if layer is None or self.file:
            self.session.undo_save()
            return
        if self.session.defer(self.undo_save):  # a save on its way is the last one
            return
        while self._groups:
            group_id = self._groups.pop()
            if edit_buffer.remove_group(layer, group_id):
                self._say(f"removed the last save ({group_id[-6:]}) from layer {layer.name()}", OK)
                return
        self._say(f"there is no save to undo in layer {layer.name()}", ERROR)

    def _taken(self, data: dict) -> None:
        layer = self.layer
        if layer is None or self.file or sip.isdeleted(layer):
            self._say("the output layer changed before the save arrived; prompt the object again and save",
                      ERROR)
            return
        try:
            count = edit_buffer.add_group(layer, data["group_id"], data["features"])
        except ValueError as exc:
            self._say(str(exc), ERROR)
            return
        self._groups.append(data["group_id"])
        self._say(f"saved {count} polygon{'' if count == 1 else 's'} to layer {layer.name()} (edit buffer: "
                  "Save Layer Edits keeps them)", OK)

    def _written(self, answer: dict) -> None:
        """The engine wrote a save or an undo: QGIS shows the file as it is now."""
        if self.layer is not None and self.file:
            project_layers.reload(self.layer)
            return
        output = answer["session"].get("output")
        if output:
            project_layers.show_output(output)
