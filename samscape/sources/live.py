"""Live mode: a raster and a model, chips encoded when prompts need them.

The chips are those `samscape encode` would make with the same settings, and they are written to
a cache that is itself a feature folder, so a live result equals the pre-encoded one by
construction and the cache can be reused, or completed with `samscape encode`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from numbers import Real
from pathlib import Path

from tqdm.auto import tqdm

from ..chiploop import ProgressCallback, encode_chips
from ..errors import FolderWriteError, SettingsError
from ..features import FolderMetadata, FolderState, check_target, chip_relpath, prepare_folder, read_chip
from ..features.storage import is_url
from ..folderlock import FolderLock
from ..models import samscape_home
from ..planning import EncodePlan, plan_encoding, start_encoding
from ..raster import RasterSource
from ..raster.remote import is_remote, remote_name
from ..settings import EncodeSettings, settings_with
from .base import DEFAULT_MEMORY_MB, Features, FeatureSource, check_memory_mb

DEFAULT_DISK_MB = 4096.0


def default_cache_dir(raster: str, digest: str) -> Path:
    """$SAMSCAPE_HOME/live/<raster name>-<digest of the encoding> (a URL's file name, without its
    query string)."""
    stem = Path(remote_name(raster) if is_remote(raster) else raster.rstrip("/")).stem or "raster"
    return samscape_home() / "live" / f"{stem}-{digest[:16]}"


class LiveSource(FeatureSource):
    """Features encoded on demand from `raster` with `settings` into the feature folder
    `cache_dir` (default: one per raster and settings under $SAMSCAPE_HOME/live), holding at most
    `disk_mb` of chips (least recently used removed first).

    progress: True for a progress bar while chips are encoded, or a callable(done, total).
    A batch size of "auto" is chosen as `encode` chooses it (`planning.start_encoding`, once per
    model and device); `compile` is not used: a live source encodes a few chips at a time, and
    compiling would hold up the first click for a minute or more.
    """

    mode = "live"
    settings: EncodeSettings
    plan: EncodePlan
    state: FolderState
    _started: bool
    disk_bytes: int
    progress: bool | ProgressCallback
    _raster: RasterSource
    _lock: threading.RLock
    _used: dict[int, float]
    _executor: ThreadPoolExecutor

    def __init__(self, raster: str, settings: EncodeSettings | None = None, *,
                 cache_dir: str | os.PathLike | None = None, disk_mb: float = DEFAULT_DISK_MB,
                 memory_mb: float = DEFAULT_MEMORY_MB, progress: bool | ProgressCallback = False,
                 **kwargs) -> None:
        settings = settings_with(settings, **kwargs)
        check_memory_mb(memory_mb)
        if cache_dir is not None and is_url(cache_dir):
            raise SettingsError(f"the live cache is a local folder, not the URL '{cache_dir}'; give a "
                                "local --cache, or encode into object storage with 'samscape encode'")
        if isinstance(disk_mb, bool) or not isinstance(disk_mb, Real) or not disk_mb > 0:
            raise SettingsError(f"live cache size (disk_mb) {disk_mb!r} is not valid: "
                                "give a number of MB above 0")
        self.settings = settings
        self.disk_bytes = int(disk_mb * 2**20)
        self.progress = progress
        self._raster = RasterSource(raster, crs=settings.crs)
        try:
            self.plan = plan_encoding(self._raster.__enter__(), settings)
            metadata = self.plan.metadata
            identity = metadata.model_dump_json(include={"model", "preprocessing", "dtype"})
            folder = Path(cache_dir) if cache_dir else default_cache_dir(
                raster, hashlib.sha256(identity.encode()).hexdigest())
            self._started = folder.exists()
            self.state = self._cache(folder, metadata) if self._started else \
                FolderState.empty(folder, metadata)
        except BaseException:
            self._raster.__exit__(None, None, None)
            raise
        super().__init__(self.plan.chips, self.plan.backend, metadata.preprocessing.source_name,
                         memory_mb)
        self._lock = threading.RLock()
        self._used = {cid: self._file(cid).stat().st_mtime for cid in self.state.records}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="samscape-live")

    @staticmethod
    def _cache(folder: Path, metadata: FolderMetadata) -> FolderState:
        """The cache `folder`, resumed, or made (with its parents) if it is not there."""
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FolderWriteError(f"cannot create the live cache '{folder}': {exc.strerror}; "
                                   "give a --cache folder you can write to") from None
        with FolderLock(folder.parent).held():  # two opens of one raster share its cache
            check_target(folder)
            return prepare_folder(folder, metadata, overwrite=False, fix=(
                f"remove '{folder}' or give another --cache folder (or run 'samscape encode "
                f"RASTER {folder} --overwrite' to encode it anew)"))

    @property
    def folder(self) -> Path:
        """The cache: a feature folder, usable as a pre-encoded source."""
        return Path(self.state.folder)

    @property
    def metadata(self) -> FolderMetadata:
        return self.state.metadata

    @property
    def raster(self) -> str:
        return self._raster.path

    def _file(self, chip_id: int) -> Path:
        return self.folder / chip_relpath(chip_id)

    def has_chip(self, chip_id: int) -> bool:
        return 0 <= chip_id < len(self.chips) and chip_id not in self.state.skipped

    def encoded_ids(self) -> set[int]:
        return set(self.state.records)

    def missing(self, chip_ids: list[int]) -> list[int]:
        """Those of `chip_ids` that still need encoding."""
        done = self.state.records.keys() | self.state.skipped
        return [cid for cid in dict.fromkeys(chip_ids) if cid not in done]

    def prepare(self, chip_ids: list[int]) -> None:
        """Encode those of `chip_ids` not in the cache yet, in batches, with progress."""
        with self._lock:
            if not self._started and self.missing(chip_ids):  # the cache appears with its first chips
                self.state = self._cache(self.folder, self.metadata)
                self._started = True
            todo = self.missing(chip_ids)
            if not todo:
                return
            report = self._reporter(len(todo))
            try:
                self._encode(todo, report)
            finally:
                report(None)
                self.state.flush()
            self._evict(keep=set(chip_ids))

    def prepare_async(self, chip_ids: list[int]) -> Future:
        """`prepare` in a background thread; the future's result is None once they are ready."""
        return self._executor.submit(self.prepare, list(chip_ids))

    def _reporter(self, total: int) -> Callable[[int | None], None]:
        if callable(self.progress):
            callback = self.progress
            callback(0, total)

            def call(done: int | None) -> None:
                if done is not None:
                    callback(done, total)

            return call
        bar = tqdm(total=total, unit="chip", desc="encoding", disable=not self.progress,
                   dynamic_ncols=True, leave=False)

        def report(done: int | None) -> None:
            if done is None:
                bar.close()
            else:
                bar.update(done - bar.n)

        return report

    def _encode(self, chip_ids: list[int], report: Callable[[int], None]) -> None:
        """Encode `chip_ids` into the cache, reporting the count done after each batch."""
        chips = [self.chips.chip(cid) for cid in chip_ids]
        batch_size = start_encoding(self.plan, self.settings, len(chips), allow_compile=False).batch_size
        done = 0
        for batch in encode_chips(self._raster, self.plan, chips, batch_size, self.state):
            now = time.time()
            for chip in batch.encoded:
                self._used[chip.chip_id] = now
            done += len(batch)
            report(done)

    def load(self, chip_id: int) -> Features | None:
        with self._lock:
            if not self.has_chip(chip_id):
                return None
            if chip_id not in self.state.records:
                self.prepare([chip_id])
                if chip_id in self.state.skipped:
                    return None
            meta = self.state.metadata
            file = self._file(chip_id)
            try:
                features = read_chip(file, chip_id, meta.model.id, meta.dtype, meta.feature_shapes)
            except Exception:  # removed or damaged behind our back: encode it again
                self.state.forget(chip_id)
                file.unlink(missing_ok=True)
                return self.load(chip_id)
            self._used[chip_id] = time.time()
            os.utime(file)
            return features

    def _evict(self, keep: set[int]) -> None:
        """Remove least recently used chip files until the cache fits `disk_bytes`."""
        sizes = {cid: self._file(cid).stat().st_size for cid in self.state.records}
        total = sum(sizes.values())
        if total <= self.disk_bytes:
            return
        for cid in sorted(sizes, key=lambda c: self._used.get(c, 0.0)):
            if total <= self.disk_bytes:
                break
            if cid in keep:
                continue
            self._file(cid).unlink(missing_ok=True)
            self.state.forget(cid)
            self._used.pop(cid, None)
            total -= sizes[cid]
        self.state.flush()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            if self._started:
                self.state.flush()
            self._raster.__exit__(None, None, None)
