"""Writing a feature folder: start, resume or overwrite one, store chips, flush its manifest.

The one writer of the format: the batch encoder, the live cache and the estimator all write
through it, so a folder is checked, verified and named the same way whoever writes it. The folder
is a local path or a URL (an object store prefix); every file goes through its `Store`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FeatureFolderError, FolderConflictError, FolderWriteError
from ..folderlock import FolderBusy, FolderLock
from ..geo import Chip, ChipGrid
from ..raster import FINGERPRINT_VERSION
from .chipfile import chip_bytes, read_chip
from .manifest import (
    FEATURES_DIR,
    MANIFEST,
    PARTS_DIR,
    ChipRecord,
    ManifestJournal,
    chip_relpath,
    read_rows,
    remove_parts,
)
from .metadata import FolderMetadata, ModelRecord, PreprocessingRecord
from .records import WrittenChips
from .storage import FsspecStore, Store, open_store
from .temporaries import abandoned

if TYPE_CHECKING:
    import torch

OVERWRITE_FIX = "pass --overwrite to encode it again, or choose another folder"

CHIP_FILE = re.compile(r"chip_(\d{6,})\.pt")
CHIP_TEMPORARY = re.compile(r"\.chip_\d{6,}\.pt\.\d+(\.[0-9a-f]+)?\.tmp")


@dataclass
class FolderState:
    """A feature folder being written: its metadata, the chips written, the chips all nodata, and
    what of them its manifest holds.

    Thread-safe: chips are written from several threads at once (the encoding loop's writers);
    `records` and `skipped` change under a lock, and `flush` writes a snapshot of them (one flush
    at a time, so a later snapshot is never overwritten by an earlier one).
    """

    folder: Path | str
    metadata: FolderMetadata
    records: WrittenChips
    skipped: set[int]
    journal: ManifestJournal
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _flushing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def empty(cls, folder: Path | str, metadata: FolderMetadata, skipped: set[int] | None = None
              ) -> FolderState:
        """A state with no chip written yet (and `skipped` chips all nodata) for `folder`."""
        pre = metadata.preprocessing
        chips = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
        return cls(folder, metadata, WrittenChips(chips), set(skipped or ()), ManifestJournal(folder, chips))

    @property
    def store(self) -> Store:
        return self.journal.store

    def flush(self, append: bool = False) -> None:
        """Write the manifest: all of it in `manifest.parquet`, or with `append` only the chips
        written and skipped since the last flush, as a part: a cost that does not grow with the
        folder."""
        with self._flushing:
            with self._lock:
                written, skipped = self.records.mask(), set(self.skipped)
            try:
                self.journal.flush(self.metadata, written, skipped, append)
            except OSError as exc:
                raise _write_error(self.folder, exc) from None

    def write(self, chip: Chip, pixels_shape: tuple[int, int], features: dict[str, torch.Tensor]
              ) -> None:
        """Store one chip's features (not yet in the manifest until `flush`)."""
        try:
            self.store.write(chip_relpath(chip.chip_id), chip_bytes(
                chip.chip_id, self.metadata.model.id, pixels_shape, features, self.metadata.dtype))
        except OSError as exc:
            raise _write_error(self.folder, exc) from None
        record = ChipRecord.from_chip(chip)
        with self._lock:
            self.records[chip.chip_id] = record

    def skip(self, chip: Chip) -> None:
        """Record `chip` as all nodata (in the manifest from the next `flush`)."""
        with self._lock:
            self.skipped.add(chip.chip_id)

    def forget(self, chip_id: int) -> None:
        """Drop `chip_id`'s record (its file removed; out of the manifest from the next `flush`)."""
        with self._lock:
            self.records.pop(chip_id, None)


def check_target(out: Path | str) -> None:
    """Refuse a file, a Geo-SAM feature folder, or a non-empty folder that is not a feature folder
    (leftovers of a run killed before its first manifest, an empty features/ and a temporary
    manifest, don't count); in an object store, a missing bucket, or a prefix holding objects but
    no manifest."""
    if isinstance(out, str):
        store = open_store(out)
        if isinstance(store, FsspecStore):
            if store.is_web:
                raise FolderConflictError(f"'{out}' is on a web server, which samscape only reads; "
                                          "encode into a local folder or object storage (s3://…)")
            store.check_bucket()
            if not store.exists(MANIFEST) and (store.children() or store.names(FEATURES_DIR)):
                raise FolderConflictError(
                    f"'{out}' holds objects but is not a feature folder; choose a new or empty prefix")
            return
        out = Path(out)
    from .geosam import is_geosam_folder

    if out.exists() and not out.is_dir():
        raise FolderConflictError(f"'{out}' is a file; give a folder path for the features")
    if out.is_dir() and not (out / MANIFEST).is_file() and not all(map(_leftover, out.iterdir())):
        raise FolderConflictError(
            f"'{out}' is not empty and is not a feature folder; choose a new or empty folder"
        )
    if is_geosam_folder(out):  # never written over, --overwrite or not: its chips are Geo-SAM's
        raise FolderConflictError(f"'{out}' is a Geo-SAM feature folder, which samscape leaves as it "
                                  "is; choose a new or empty folder")


def _leftover(path: Path) -> bool:
    if path.name == FEATURES_DIR:
        return path.is_dir() and not any(path.iterdir())
    return path.name.startswith(f".{MANIFEST}.") and path.name.endswith(".tmp")


@contextmanager
def one_writer(out: Path | str) -> Iterator[None]:
    """Hold the local folder `out` for one writer, across threads and processes: a second encoding
    into it is refused (FolderConflictError) instead of encoding every chip again beside the
    first. The lock is on `out/features/`, made if missing; a folder made here and left with only
    an empty `features/` is removed again. Object stores are not locked."""
    if not isinstance(out, Path):
        yield
        return
    created = not out.exists()
    features = out / FEATURES_DIR
    try:
        if not features.is_dir():
            features.mkdir(parents=True)
    except OSError as exc:
        raise _write_error(out, exc) from None
    try:
        with ExitStack() as stack:
            try:
                stack.enter_context(FolderLock(features).held(wait=False))
            except FolderBusy:
                raise FolderConflictError(f"another samscape encoding is writing '{out}'; wait for it "
                                          "to end, or encode into another folder") from None
            yield
    finally:
        with suppress(OSError):
            if created and [p.name for p in out.iterdir()] == [FEATURES_DIR] \
                    and not any(features.iterdir()):
                features.rmdir()
                out.rmdir()


def prepare_folder(out: Path | str, metadata: FolderMetadata, overwrite: bool,
                   fix: str = OVERWRITE_FIX) -> FolderState:
    """Start a new folder, or resume one holding the same encoding, or start over if asked;
    `fix` ends the message of a FolderConflictError (what the caller's user can do)."""
    skipped: set[int] = set()
    recorded: Iterable[int] | None = None
    store = open_store(out)
    if store.exists(MANIFEST):
        existing: FolderMetadata | None
        try:
            existing, rows = read_rows(out)
        except FeatureFolderError:
            existing = None
        if overwrite:
            _remove_own_files(out, store)
        elif existing is None:
            raise FolderConflictError(f"'{out}' holds an unreadable manifest; {fix}")
        elif existing.same_encoding(metadata):
            metadata = metadata.model_copy(update={"created": existing.created})
            skipped = set(existing.skipped_chip_ids)
            recorded = rows.ids
        else:
            raise FolderConflictError(f"{_conflict(out, existing, metadata)}; {fix}")
    try:
        for name in store.names():
            if name.startswith(f".{MANIFEST}.") and name.endswith(".tmp") and abandoned(Path(name)):
                store.delete(name)
        local = store.local_path(FEATURES_DIR)
        if local is not None:
            local.mkdir(parents=True, exist_ok=True)
        state = FolderState.empty(out, metadata, skipped)
        if _verify_existing(state, () if recorded is None else recorded) and recorded is not None \
                and not store.names(PARTS_DIR):
            state.journal.adopt(state.records.mask(), skipped)
        state.flush()
    except OSError as exc:
        raise _write_error(out, exc) from None
    return state


def _write_error(out: Path | str, exc: OSError) -> FolderWriteError:
    if isinstance(exc, FolderWriteError):  # already said, by a write inside the failing step
        return exc
    reason = exc.strerror or str(exc).splitlines()[0]
    return FolderWriteError(f"cannot write the feature folder '{out}': {reason}; choose a folder you "
                            "can write to, or free some space")


def _remove_own_files(out: Path | str, store: Store) -> None:
    """Remove what samscape wrote in `out` (the manifest, chip files, temporaries of both); any
    other file, in `features/` too, stays."""
    try:
        store.delete(MANIFEST)
        remove_parts(store)
        for name in store.names(FEATURES_DIR):
            if _own_chip_file(name) is not None or CHIP_TEMPORARY.fullmatch(name):
                store.delete(f"{FEATURES_DIR}/{name}")
    except OSError as exc:
        raise _write_error(out, exc) from None


def _own_chip_file(name: str) -> int | None:
    """The chip id of a file named as samscape names chip files, else None."""
    match = CHIP_FILE.fullmatch(name)
    return int(match.group(1)) if match else None


def _conflict(out: Path | str, old: FolderMetadata, new: FolderMetadata) -> str:
    """Why the folder `out`, holding `old`, cannot take the encoding `new` (no fix)."""
    before, now = old.preprocessing, new.preprocessing
    if before.source_name == now.source_name and before.source_fingerprint != now.source_fingerprint:
        if not before.source_fingerprint.startswith(f"{FINGERPRINT_VERSION}:"):
            return (f"'{out}' was encoded by an older samscape, which cannot tell whether the raster "
                    f"'{now.source_name}' changed since")
        return (f"the raster '{now.source_name}' changed since '{out}' was encoded (its pixels, size "
                "or georeferencing differ), so its chips are stale")
    return f"'{out}' holds a different encoding ({_difference(old, new)})"


def _difference(old: FolderMetadata, new: FolderMetadata) -> str:
    if old.model.id != new.model.id:
        return f"model {old.model.id}, not {new.model.id}"
    if old.dtype != new.dtype:
        return f"dtype {old.dtype}, not {new.dtype}"
    for record, fields in (("preprocessing", PreprocessingRecord.model_fields),
                           ("model", ModelRecord.model_fields)):
        for key in fields:
            a, b = getattr(getattr(old, record), key), getattr(getattr(new, record), key)
            if a != b:
                return f"{'model ' if record == 'model' else ''}{key} {a}, not {b}"
    return "other settings"


def _verify_existing(state: FolderState, recorded: Iterable[int]) -> bool:
    """Keep the chip files the last manifest records (trusted: `info --validate` checks them) and
    those not recorded that load and verify (a killed run may have written some after its last
    manifest update); delete temporary and corrupt files. Recorded chips whose file is gone are
    encoded again. Whether the chips kept are exactly those recorded."""
    trusted = np.zeros(len(state.records.chips), dtype=bool)
    trusted[np.fromiter(recorded, dtype=np.int64)] = True
    features = state.store.local_path(FEATURES_DIR)
    if features is None:  # an object store: no temporaries, one listing
        for name in state.store.names(FEATURES_DIR):
            _keep_or_remove(state, name, trusted)
        return bool((state.records.mask() == trusted).all())
    for tmp in features.glob(".chip_*.tmp"):
        if CHIP_TEMPORARY.fullmatch(tmp.name) and abandoned(tmp):
            tmp.unlink(missing_ok=True)
    with os.scandir(features) as entries:  # a million names, never all held at once
        for entry in entries:
            _keep_or_remove(state, entry.name, trusted)
    return bool((state.records.mask() == trusted).all())


def _keep_or_remove(state: FolderState, name: str, trusted: np.ndarray) -> None:
    """Record the file `name` of features/ if it is a chip file that is `trusted` or loads and
    verifies; delete it if it is a chip file that does not."""
    meta = state.metadata
    count = len(trusted)
    chip_id = _own_chip_file(name)
    if chip_id is None:
        return  # not a name samscape writes: the user's
    if chip_id < count and trusted[chip_id]:
        state.records.add(chip_id)
        return
    relative = f"{FEATURES_DIR}/{name}"
    try:
        if not 0 <= chip_id < count:
            raise ValueError("not a chip of this grid")
        content = state.store.local_path(relative) or state.store.read(relative)
        read_chip(content, chip_id, meta.model.id, meta.dtype, meta.feature_shapes)
    except FileNotFoundError:
        return
    except Exception:
        state.store.delete(relative)
        return
    state.records.add(chip_id)
