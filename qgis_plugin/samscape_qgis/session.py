"""The dock's conversation with the engine about one source (a feature folder, or a raster encoded
live), as the browser app has it (`samscape/serve/static/sources.js`, `prompts.js`, `outputs.js`,
`progress.js`): open the source, start a session
in the canvas's CRS (so the engine transforms prompts in and results out), send prompts, save and
undo saves. Every call returns at once; answers to a load that a newer one replaced are dropped,
and what that load made on the engine is closed again."""

from __future__ import annotations

import os
from collections.abc import Callable

from qgis.core import QgsCoordinateReferenceSystem
from qgis.PyQt.QtCore import QObject, pyqtSignal

from .client import Client, Reply
from .crs import to_engine
from .live import LIVE, EncodingProgress
from .preview import Preview

OK, WARN, ERROR, INFO = "ok", "warn", "error", ""


class SegmentationSession(QObject):
    """One open source and its session on the engine. `source` and `session` are the engine's JSON
    (None before a load); `crs` is the session's CRS. `loading`: a load is under way (no prompt is
    taken meanwhile); `busy`: a prompt is being answered. Messages go out as `message(topic, text,
    level)` with topic 'source', 'prompt' or 'output' and level 'ok', 'warn', 'error' or ''."""

    source_loaded = pyqtSignal(dict, dict)  # the source's JSON, its chip footprints (GeoJSON)
    changed = pyqtSignal(dict)  # the session's JSON: prompts and result in `crs`
    saved = pyqtSignal(dict)  # the save's answer: group_id, polygons, session
    save_undone = pyqtSignal(dict)  # group_id, session
    taken = pyqtSignal(dict)  # a take's answer: group_id, polygons, features (in the layer's CRS), session
    output_changed = pyqtSignal(dict)  # the session's JSON, with its new output
    message = pyqtSignal(str, str, str)
    reset = pyqtSignal()  # the engine (re)started or stopped: nothing is loaded any more
    model_missing = pyqtSignal(str)  # a Load failed: the folder's model is not on the engine's machine

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client: Client | None = None
        self.source: dict | None = None
        self.session: dict | None = None
        self.chips: dict | None = None
        self.crs = QgsCoordinateReferenceSystem()
        self.output = ""
        self.output_elsewhere = False  # saves go to a layer QGIS writes itself (`take`), not `output`
        self.vector = {"max_polygon_only": False, "vectorize": "pixel"}
        self.loading = False
        self.busy = False
        self.preview = Preview(self)
        self.progress = EncodingProgress(self)
        self.progress.chips_changed.connect(self._chips_encoded)
        self._load_seq = 0
        self._after_prompt: list[Callable[[], None]] = []

    @property
    def idle(self) -> bool:
        """Nothing is loading, being prompted, saved or previewed."""
        return (not (self.loading or self.busy or self._after_prompt) and self.preview.idle
                and self.progress.idle)

    def set_client(self, client: Client | None) -> None:
        """Talk to this engine from now on (None: none runs); what the previous one had open is gone."""
        had = (self.source or {}).get("mode")
        self.client = client
        self._load_seq += 1
        self.source = self.session = self.chips = None
        self.loading = self.busy = False
        self._after_prompt.clear()
        self.preview.clear()
        self.progress.clear()
        self.reset.emit()
        if had:
            what = "raster" if had == LIVE else "folder"
            self.message.emit("source", f"the samscape engine restarted: Load the {what} again", WARN)

    # loading

    def load(self, folder: str, crs: QgsCoordinateReferenceSystem, output: str, model: str = "") -> None:
        """Open the feature folder `folder` with a session in `crs`, saving to `output` ('' : none yet);
        `model` names the model a Geo-SAM folder was encoded with ('': the one it records)."""
        if self.client is None:
            self.message.emit("source", "the samscape engine is not running; start it (Restart engine) "
                              "and Load again", ERROR)
            return
        if not folder:
            self.message.emit("source", "choose a feature folder first (…), then Load", ERROR)
            return
        self._open({"path": folder, "model": model} if model else {"path": folder}, crs, output)

    def load_live(self, raster: str, model: str, crs: QgsCoordinateReferenceSystem, output: str) -> None:
        """Open the raster file `raster` for live encoding with `model`, as `load` opens a folder."""
        if self.client is None:
            self.message.emit("source", "the samscape engine is not running; start it (Restart engine) "
                              "and Load again", ERROR)
            return
        self._open({"path": raster, "model": model}, crs, output)

    def _open(self, body: dict, crs: QgsCoordinateReferenceSystem, output: str) -> None:
        seq = self._begin_load()
        self.output = output
        self.message.emit("source", "Loading…", INFO)
        self.client.post("/api/sources", body).then(lambda reply: self._opened(seq, reply, crs))

    def set_crs(self, crs: QgsCoordinateReferenceSystem) -> None:
        """Prompt in `crs` from now on: a new session on the same source (the prompts so far go)."""
        if self.source is None or self.client is None or crs == self.crs:
            return
        seq = self._begin_load()
        self._start(seq, self.source, crs, opens=False)

    def _begin_load(self) -> int:
        self._load_seq += 1
        self.loading = True
        self.preview.clear()
        return self._load_seq

    def _latest(self, seq: int) -> bool:
        return seq == self._load_seq

    def _opened(self, seq: int, reply: Reply, crs: QgsCoordinateReferenceSystem) -> None:
        if not reply.ok:
            if self._latest(seq):
                self.loading = False
                missing = reply.data.get("missing_model") if isinstance(reply.data, dict) else None
                self.message.emit("source", missing_model_line(missing) if missing else reply.error, ERROR)
                if missing:
                    self.model_missing.emit(missing)
            return
        if not self._latest(seq):
            self._close_source(reply.data["id"])
            return
        self._start(seq, reply.data, crs, opens=True)

    def _start(self, seq: int, info: dict, crs: QgsCoordinateReferenceSystem, opens: bool) -> None:
        """Fetch the chips and start a session on the open source `info`, both at once."""
        body = {"source": info["id"], "crs": to_engine(crs), **self.vector}
        replies = [self.client.get(f"/api/sources/{info['id']}/chips"),
                   self.client.post("/api/sessions", body)]

        def both(_: Reply) -> None:
            if all(r.done for r in replies):
                self._started(seq, info, crs, opens, *replies)

        for reply in replies:
            reply.then(both)

    def _started(self, seq: int, info: dict, crs: QgsCoordinateReferenceSystem, opens: bool,
                 chips: Reply, created: Reply) -> None:
        if not (chips.ok and created.ok and self._latest(seq)):
            if created.ok:
                self._end_session(created.data["id"])
            if opens and (self.source is None or self.source["id"] != info["id"]):
                self._close_source(info["id"])
            if self._latest(seq):
                self.loading = False
                self.message.emit("source", chips.error or created.error, ERROR)
            return
        previous_session, previous_source = self.session, self.source
        self.source, self.chips, self.session, self.crs = info, chips.data, created.data, crs
        self.preview.clear()
        if opens:
            self.progress.clear()
        self.source_loaded.emit(info, chips.data)
        self.changed.emit(created.data)
        self.message.emit("source", describe_source(info), WARN if not info.get("raster") else OK)
        if previous_session is not None:
            self._end_session(previous_session["id"])
        if opens and previous_source is not None and previous_source["id"] != info["id"]:
            self._close_source(previous_source["id"])
        if self.output:
            self._put_output(self.output, lambda: setattr(self, "loading", False))
        else:
            self.loading = False
            if not self.output_elsewhere:
                self.message.emit("output", "choose an output GeoPackage to save to", INFO)

    def _chips_encoded(self, chips: dict) -> None:
        """The live source's line, with the count of chips encoded now."""
        encoded = sum(1 for f in chips["features"] if f["properties"].get("encoded"))
        self.source = {**self.source, "encoded": encoded}
        self.message.emit("source", describe_source(self.source), OK)

    def _end_session(self, session_id: str) -> None:
        if self.client is not None:
            self.client.delete(f"/api/sessions/{session_id}")

    def _close_source(self, source_id: str) -> None:
        if self.client is not None:
            self.client.delete(f"/api/sources/{source_id}")

    # the output layer

    def set_output(self, path: str) -> None:
        """Save to the layer at `path` from now on (a new file, or an existing samscape layer)."""
        self.output = path
        if self.session is not None and path:
            self._put_output(path)

    def _put_output(self, path: str, then: Callable[[], None] | None = None) -> None:
        session_id = self.session["id"]

        def answered(reply: Reply) -> None:
            if then is not None:
                then()
            if self.session is None or self.session["id"] != session_id:
                return
            if not reply.ok:
                self.message.emit("output", reply.error, ERROR)  # the engine's line names the fix
                return
            self.session = reply.data
            self.output_changed.emit(reply.data)
            self.message.emit("output", describe_output(reply.data), OK)

        self.client.put(f"/api/sessions/{session_id}/output", {"path": path}).then(answered)

    def set_vector(self, max_polygon_only: bool, vectorize: str) -> None:
        """Vectorise with these options from now on, the current result included (the engine traces
        its mask again), once the prompt being answered, if any, is."""
        self.vector = {"max_polygon_only": max_polygon_only, "vectorize": vectorize}
        if self.busy:
            self._after_prompt.append(lambda: self._send("options", self.vector, method="PUT"))
        elif self.session is not None:
            self._send("options", self.vector, method="PUT")

    # prompts

    def add_point(self, x: float, y: float, label: int) -> None:
        """A point at (x, y) in `crs`: foreground (label 1) or background (0)."""
        self._send("points", {"x": x, "y": y, "label": label})

    def set_box(self, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
        self._send("box", {"box": [xmin, ymin, xmax, ymax]})

    def undo(self) -> None:
        self._send("undo")

    def clear(self) -> None:
        self._send("clear")

    def _send(self, path: str, body: dict | None = None, method: str = "POST") -> None:
        """A prompt change; ignored while loading or while another one is answered (as in the
        browser app), and the preview dropped."""
        if self.session is None or self.busy or self.loading:
            return
        self.busy = True
        self.preview.clear()
        session_id = self.session["id"]
        url = f"/api/sessions/{session_id}/{path}"
        reply = self.client.put(url, body) if method == "PUT" else self.client.post(url, body)
        self.progress.track(reply, body if path in ("points", "box") else None)
        reply.then(lambda r: self._prompted(session_id, r))

    def _prompted(self, session_id: str, reply: Reply) -> None:
        self.busy = False
        if self.session is not None and self.session["id"] == session_id:
            if reply.ok:
                self.session = reply.data
                self.changed.emit(reply.data)
            else:
                self.message.emit("prompt", reply.error, ERROR)
        self._run_waiting()

    def defer(self, action: Callable[[], None]) -> bool:
        """Whether `action` was put off until the prompt being answered is (False: none is)."""
        if self.busy:
            self._after_prompt.append(action)
        return self.busy

    def _run_waiting(self) -> None:
        waiting, self._after_prompt = self._after_prompt, []
        for action in waiting:
            action()
        self.preview.pump()

    # saves

    def save(self) -> None:
        """Save the current result as one group (after the prompt being answered, if any)."""
        if self.busy:
            self._after_prompt.append(self.save)
            return
        if self.session is None or self.loading:
            return
        if not self.session.get("output"):
            self.message.emit("output", "choose an output GeoPackage first (Input/Output tab)", ERROR)
            return
        self._save_call("save", self.saved, lambda data: describe_save(data))

    def take(self, crs: str) -> None:
        """Save the current result into a layer QGIS writes itself: the engine answers the group's
        rows in `crs` (`taken`; nothing is said on success) and clears the prompts, as a save does."""
        if self.defer(lambda: self.take(crs)) or self.session is None or self.loading:
            return
        self._save_call("group", self.taken, None, {"crs": crs})

    def undo_save(self) -> None:
        """Remove the last group this session saved from its layer."""
        if self.busy:
            self._after_prompt.append(self.undo_save)
            return
        if self.session is None or self.loading:
            return
        self._save_call("undo-save", self.save_undone,
                        lambda data: f"removed the last save ({data['group_id'][-6:]})")

    def _save_call(self, path: str, signal, describe: Callable[[dict], str] | None,
                   body: dict | None = None) -> None:
        self.busy = True
        self.preview.clear()
        session_id = self.session["id"]

        def answered(reply: Reply) -> None:
            self.busy = False
            if self.session is not None and self.session["id"] == session_id:
                if reply.ok:
                    self.session = reply.data["session"]
                    self.changed.emit(self.session)
                    signal.emit(reply.data)
                    if describe is not None:
                        self.message.emit("output", describe(reply.data), OK)
                else:
                    self.message.emit("output", reply.error, ERROR)
            self._run_waiting()

        self.client.post(f"/api/sessions/{session_id}/{path}", body).then(answered)


def describe_source(info: dict) -> str:
    """The line shown once a source is loaded (scene.js's showSourceStatus)."""
    if info.get("mode") == LIVE:
        return (f"Live: {info['name']}, {info['chips']} chips ({info['encoded']} encoded), model "
                f"{info['model']}, {info['crs']}; chips are encoded as prompts reach them")
    line = f"Loaded {info['name']}: {info['chips']} chips, model {info['model']}, {info['crs']}"
    if info.get("raster"):
        return line
    return (f"{line}. Its raster {info['name']} was not found beside the feature folder (or it changed "
            f"since encoding): add the image to the project yourself")


def missing_model_line(model_id: str) -> str:
    return (f"this folder was encoded with model {model_id}, which the samscape engine does not have: "
            f"Get model {model_id}… to download or import it")


def describe_output(session: dict) -> str:
    """Where saves go, and whether polygons are reprojected into that layer (outputs.js)."""
    where = f"saving to {os.path.basename(session['output'])} ({session['output_crs']})"
    if session["output_crs"] == session["crs"]:
        return where
    return f"{where}; polygons are reprojected from {session['crs']} (area_m2 stays in square metres)"


def describe_save(data: dict) -> str:
    session, count = data["session"], data["polygons"]
    into = "" if session["output_crs"] == session["crs"] else f", reprojected into {session['output_crs']}"
    return f"saved {count} polygon{'' if count == 1 else 's'} to {os.path.basename(session['output'])}{into}"
