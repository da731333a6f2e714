"""What a server holds: open sources, segmentation sessions, and the output layers they write."""

from __future__ import annotations

import itertools
import threading
import weakref
from pathlib import Path

from rasterio.crs import CRS

from ..encoder import EncodeSettings, encode
from ..errors import OutputLayerError, PathNotFoundError, RasterReadError, SamscapeError
from ..geo import norm_crs
from ..raster import RasterSource
from ..raster.scaling import ValueRange
from ..segment import FeatureSource, Segmenter, Session, open_source
from ..vector import OutputLayer, VectorOptions
from .roots import Roots
from .tiles import TileGrid, TileRenderer


class Progress:
    """Chips encoded so far by the request running on a live source, summed over the encodings
    it starts (one per group of chips it reaches); `encoding` until the request ends."""

    def __init__(self) -> None:
        self.finish()

    def __call__(self, done: int, total: int) -> None:
        if done == 0:  # a new encoding within the request
            self._before = (self.done, self.total)
        self.done, self.total = self._before[0] + done, self._before[1] + total
        self.active = True

    def finish(self) -> None:
        self.done = self.total = 0
        self._before = (0, 0)
        self.active = False

    def to_json(self) -> dict:
        return {"encoding": self.active, "done": self.done, "total": self.total}


class Opened:
    """An open source, the lock that orders segmentations on it (chip cache, live encoding), its
    live-encoding progress, and its tiles (None when its raster is not found under the roots)."""

    def __init__(self, source: FeatureSource, path: Path, progress: Progress,
                 raster: Path | None) -> None:
        self.source = source
        self.path = path
        self.lock = threading.RLock()
        self.progress = progress
        self.raster = raster
        self.tiles = None
        if raster is not None:
            pre = source.metadata.preprocessing
            self.tiles = TileRenderer(raster, pre.bands, ValueRange(*pre.value_range), source.crs,
                                      TileGrid.for_grid(source.grid))


def find_raster(source: FeatureSource, folder: Path, roots: Roots, given: str | None) -> Path | None:
    """The raster a feature folder was encoded from: `given`, else a file of the recorded name
    beside the folder or in it; it must lie under the roots and have the recorded fingerprint."""
    pre = source.metadata.preprocessing
    if given is None:
        candidates = [folder.parent / pre.source_name, folder / pre.source_name]
    else:
        candidates = [roots.resolve(given)]
        if not candidates[0].is_file():
            raise PathNotFoundError(f"no such file '{given}' (raster); give the raster the "
                                    f"features were encoded from ({pre.source_name}), or no raster")
    for candidate in candidates:
        try:
            path = roots.resolve(candidate)
            with RasterSource(path) as raster:
                if raster.fingerprint() == pre.source_fingerprint:
                    return path
        except SamscapeError:
            continue
    if given is not None:
        raise RasterReadError(f"'{given}' is not the raster '{folder.name}' was encoded from "
                              f"({pre.source_name}, fingerprint {pre.source_fingerprint}); "
                              f"pick {pre.source_name} as it was when encoded")
    return None


class Sources:
    """The sources a server has open, by id ('1', '2', ...); thread-safe."""

    def __init__(self, roots: Roots, device: str = "auto") -> None:
        self.roots = roots
        self.device = device
        self._open: dict[str, Opened] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, path: str, model: str | None = None, raster: str | None = None) -> str:
        """Open a feature folder (pre-encoded; `raster`: where to find its raster for the map)
        or a raster (live, with `model`) under the roots."""
        resolved = self.roots.resolve(path)
        if not resolved.exists():
            raise PathNotFoundError(f"no such file or folder '{path}'; give a feature folder or a raster")
        progress = Progress()
        if resolved.is_dir():
            source = open_source(resolved, model, device=self.device)
        else:
            source = open_source(resolved, model, device=self.device, progress=progress)
        try:
            shown = find_raster(source, resolved, self.roots, raster) if resolved.is_dir() else resolved
            opened = Opened(source, resolved, progress, shown)
        except BaseException:
            source.close()
            raise
        with self._lock:
            source_id = str(next(self._ids))
            self._open[source_id] = opened
        return source_id

    def get(self, source_id: str) -> Opened:
        with self._lock:
            if source_id not in self._open:
                raise PathNotFoundError(f"no open source {source_id!r}: open one with POST /api/sources")
            return self._open[source_id]

    def items(self) -> list[tuple[str, Opened]]:
        with self._lock:
            return list(self._open.items())

    def close(self, source_id: str) -> None:
        item = self.get(source_id)
        with self._lock:
            self._open.pop(source_id, None)
        with item.lock:
            item.source.close()

    def close_all(self) -> None:
        for source_id in list(self._open):
            self.close(source_id)


class Layers:
    """One OutputLayer per file, shared by every session that writes it, so saves from several
    tabs are ordered by the layer's own lock. A layer no session holds any more is forgotten, so
    a file never written does not keep the CRS of a session that is gone."""

    def __init__(self, roots: Roots) -> None:
        self.roots = roots
        self._layers: weakref.WeakValueDictionary[Path, OutputLayer] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def get(self, path: str, crs: CRS) -> OutputLayer:
        """The layer at `path` under the roots: an existing file keeps its CRS, a new one gets
        `crs` (that of the first session to choose it among those holding it now)."""
        resolved = self.roots.resolve(path)
        with self._lock:
            layer = self._layers.get(resolved)
            if layer is None:
                layer = OutputLayer(resolved, OutputLayer.crs_of(resolved) or crs)
                self._layers[resolved] = layer
            return layer


class Sessions:
    """Segmentation sessions by id ('1', '2', ...): one per browser tab, on an open source."""

    def __init__(self, sources: Sources, layers: Layers) -> None:
        self.sources = sources
        self.layers = layers
        self._sessions: dict[str, tuple[str, Session]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def create(self, source_id: str, output: str | None = None, crs: str | int | None = None,
               vector: VectorOptions | None = None) -> str:
        item = self.sources.get(source_id)
        session = Session(Segmenter(item.source, vector), None,
                          norm_crs(crs) if crs else item.source.crs, lock=item.lock)
        if output is not None:
            session.set_layer(self.layers.get(output, session.crs))
        with self._lock:
            session_id = str(next(self._ids))
            self._sessions[session_id] = (source_id, session)
        return session_id

    def get(self, session_id: str) -> tuple[Opened, Session]:
        with self._lock:
            if session_id not in self._sessions:
                raise PathNotFoundError(f"no session {session_id!r}: start one with POST /api/sessions")
            source_id, session = self._sessions[session_id]
        return self.sources.get(source_id), session

    def close(self, session_id: str) -> None:
        self.get(session_id)
        with self._lock:
            self._sessions.pop(session_id, None)

    def layer_of(self, session_id: str) -> OutputLayer:
        layer = self.get(session_id)[1].layer
        if layer is None:
            raise OutputLayerError("this session has no output layer yet: choose one")
        return layer


class Job:
    """One background encoding: its chips done of total, and how it ended."""

    def __init__(self, job_id: str, raster: str, out: Path) -> None:
        self.id = job_id
        self.raster = raster
        self.out = out
        self.state = "running"
        self.done = self.total = 0
        self.error: str | None = None
        self.encoded = 0
        self.seconds = 0.0

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def to_json(self) -> dict:
        return {"id": self.id, "state": self.state, "done": self.done, "total": self.total,
                "raster": self.raster, "out": str(self.out), "error": self.error,
                "encoded": self.encoded, "seconds": round(self.seconds, 3)}


class Jobs:
    """Background encodings by id ('1', '2', ...), one thread each."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, raster: str, out: Path, settings: EncodeSettings) -> Job:
        with self._lock:
            job = Job(str(next(self._ids)), raster, out)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, settings), daemon=True,
                         name=f"samscape-encode-{job.id}").start()
        return job

    def _run(self, job: Job, settings: EncodeSettings) -> None:
        try:
            result = encode(job.raster, job.out, settings, progress=job.progress)
            job.encoded, job.seconds = result.encoded, result.seconds
            job.state = "done"
        except SamscapeError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # reported to the page, which has no other way to learn of it
            job.error, job.state = f"encoding stopped: {type(exc).__name__}: {exc}", "failed"

    def get(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise PathNotFoundError(f"no job {job_id!r}: start one with POST /api/jobs/encode")
            return self._jobs[job_id]
