"""What a server holds: open sources, segmentation sessions, the output layers they write, and
all of these with the encode jobs (`jobs.py`) as one `ServerState`. The engines behind them (torch,
pyogrio, rio-tiler) load with the first source, so the server starts without them."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from rasterio.crs import CRS

from ..errors import NotFoundError, OutputLayerError, PathNotFoundError
from ..features import find_raster
from ..features.storage import is_url
from ..geo import norm_crs
from ..raster import ValueRange
from .copilot import ChipCosts
from .ids import new_id
from .jobs import EncodeProgress, Jobs
from .roots import Roots
from .wording import shortened

if TYPE_CHECKING:
    from ..segment import Session
    from ..sources import FeatureSource
    from ..vector import OutputLayer, VectorOptions


class LoadedSource:
    """A source the server has open: the source and its path, the lock that orders segmentations
    on it (chip cache, live encoding), its live-encoding progress, the raster shown on the map and
    its tiles (both None when the raster is not found under the roots)."""

    def __init__(self, source: FeatureSource, path: Path | str, progress: EncodeProgress,
                 raster: Path | str | None) -> None:
        self.source = source
        self.path = path
        self.lock = threading.RLock()
        self.progress = progress
        self.raster = raster
        self.tiles = None
        if raster is not None:
            from .tiles import TileGrid, TileRenderer

            pre = source.metadata.preprocessing
            self.tiles = TileRenderer(raster, pre.bands, ValueRange(*pre.value_range), source.crs,
                                      TileGrid.for_grid(source.grid))


class Sources:
    """The sources a server has open, by random id; thread-safe."""

    def __init__(self, roots: Roots, device: str = "auto") -> None:
        self.roots = roots
        self.device = device
        self._open: dict[str, LoadedSource] = {}
        self._kept: set[str] = set()
        self._lock = threading.Lock()

    def open(self, path: str, model: str | None = None, raster: str | None = None) -> str:
        """Open a feature folder (pre-encoded; `raster`: where to find its raster for the map)
        or a raster (live, with `model`) under the roots; a URL under a URL root (see `Roots`)."""
        from ..sources import open_source

        if is_url(path):
            return self._open_url(self.roots.resolve_url(path), model, raster)
        resolved = self.roots.resolve(path)
        if not resolved.exists():
            raise PathNotFoundError(f"no such file or folder '{shortened(str(path))}'; give a feature "
                                    "folder or a raster")
        progress = EncodeProgress()
        if resolved.is_dir():
            source = open_source(resolved, model, device=self.device)
        else:
            source = open_source(resolved, model, device=self.device, progress=progress)
        try:
            shown = (find_raster(resolved, source.metadata, raster, self.roots.resolve,
                                 self.roots.resolve_url) if resolved.is_dir() else resolved)
            opened = LoadedSource(source, resolved, progress, shown)
        except BaseException:
            source.close()
            raise
        return self._add(opened)

    def _open_url(self, url: str, model: str | None, raster: str | None) -> str:
        """A remote raster (live), or a feature folder in an object store (its raster for the map
        only when `raster` names one)."""
        from ..sources import open_source
        from ..sources.opening import is_raster_url

        progress = EncodeProgress()
        source = open_source(url, model, device=self.device, progress=progress)
        try:
            shown = url if is_raster_url(url) else None if raster is None else find_raster(
                Path(url.rsplit("/", 1)[-1]), source.metadata, raster, self.roots.resolve,
                self.roots.resolve_url)
            opened = LoadedSource(source, url, progress, shown)
        except BaseException:
            source.close()
            raise
        return self._add(opened)

    def _add(self, opened: LoadedSource) -> str:
        with self._lock:
            source_id = new_id(self._open)
            self._open[source_id] = opened
        return source_id

    def get(self, source_id: str) -> LoadedSource:
        with self._lock:
            if source_id not in self._open:
                raise NotFoundError(f"no open source '{shortened(source_id)}' (closed, or the server "
                                    "restarted); open it again (Load, or POST /api/sources)")
            return self._open[source_id]

    def items(self) -> list[tuple[str, LoadedSource]]:
        with self._lock:
            return list(self._open.items())

    def keep(self, source_id: str) -> None:
        """Keep `source_id` open when its last session ends (the source a server starts with)."""
        self._kept.add(source_id)

    def close(self, source_id: str) -> None:
        item = self.get(source_id)
        with self._lock:
            self._open.pop(source_id, None)
        _shut(item)

    def release(self, source_id: str) -> LoadedSource | None:
        """Forget `source_id`, whose last session ended, unless it is kept; the caller shuts what
        this returns (`_shut`)."""
        with self._lock:
            return None if source_id in self._kept else self._open.pop(source_id, None)

    def close_all(self) -> None:
        for source_id in list(self._open):
            self.close(source_id)


class Layers:
    """One OutputLayer per file, shared by every session that writes it, so saves from several
    tabs are ordered by the layer's own lock. A layer no session holds any more is forgotten, so
    a file never written does not keep the CRS of a session that is gone."""

    def __init__(self, roots: Roots) -> None:
        self.roots = roots
        self._layers: weakref.WeakValueDictionary[str | Path, OutputLayer] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def get(self, path: str, crs: CRS) -> OutputLayer:
        """The layer at `path` under the roots: an existing file keeps its CRS, a new one gets
        `crs` (that of the first session to choose it among those holding it now)."""
        from ..vector import OutputLayer
        from ..vector.layers import split_layer

        file, layer_name = split_layer(path)  # the file is what must lie under the roots
        resolved: str | Path = self.roots.resolve(file)
        if layer_name is not None:
            resolved = f"{resolved}:{layer_name}"
        with self._lock:
            layer = self._layers.get(resolved)
            if layer is None or not layer.path.parent.is_dir():  # a removed folder is refused anew
                layer = OutputLayer(resolved, OutputLayer.crs_of(resolved) or crs)
                self._layers[resolved] = layer
            return layer


def _no_session(session_id: str) -> NotFoundError:
    return NotFoundError(f"no session '{shortened(session_id)}' (ended, or the server restarted); "
                         "load the source again (Load, or POST /api/sessions)")


def _shut(item: LoadedSource) -> None:
    with item.lock:
        item.source.close()


class Sessions:
    """Segmentation sessions by random id: one per browser tab, on an open source."""

    def __init__(self, sources: Sources, layers: Layers) -> None:
        self.sources = sources
        self.layers = layers
        self._sessions: dict[str, tuple[str, Session]] = {}
        self._lock = threading.Lock()

    def create(self, source_id: str, output: str | None = None, crs: str | int | None = None,
               vector: VectorOptions | None = None) -> str:
        from ..segment import Segmenter, Session

        item = self.sources.get(source_id)
        session = Session(Segmenter(item.source, vector), None,
                          norm_crs(crs) if crs else item.source.crs, lock=item.lock)
        if output is not None:
            session.set_layer(self.layers.get(output, session.crs))
        with self._lock:
            self.sources.get(source_id)  # not released meanwhile: releases happen under this lock
            session_id = new_id(self._sessions)
            self._sessions[session_id] = (source_id, session)
        return session_id

    def get(self, session_id: str) -> tuple[LoadedSource, Session]:
        with self._lock:
            if session_id not in self._sessions:
                raise _no_session(session_id)
            source_id, session = self._sessions[session_id]
        return self.sources.get(source_id), session

    def close(self, session_id: str) -> None:
        """End the session; its source closes with its last session unless the server keeps it."""
        with self._lock:
            if session_id not in self._sessions:
                raise _no_session(session_id)
            source_id, _ = self._sessions.pop(session_id)
            unused = all(other != source_id for other, _ in self._sessions.values())
            released = self.sources.release(source_id) if unused else None
        if released is not None:
            _shut(released)

    def layer_of(self, session_id: str) -> OutputLayer:
        layer = self.get(session_id)[1].layer
        if layer is None:
            raise OutputLayerError("this session has no output layer yet: choose one")
        return layer


class ServerState:
    """Everything one server holds, shared by its routes as `app.state.server`: the roots it
    serves, its open sources (default: none yet), the output layers and sessions on them, its
    encode jobs, and the token every /api call must give (None: none asked)."""

    def __init__(self, roots: Roots, sources: Sources | None = None, token: str | None = None) -> None:
        self.roots = roots
        self.sources = Sources(roots) if sources is None else sources
        self.layers = Layers(roots)
        self.sessions = Sessions(self.sources, self.layers)
        self.jobs = Jobs()
        self.costs = ChipCosts()
        self.token = token
