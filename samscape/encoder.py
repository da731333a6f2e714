"""Raster + chip grid + model → feature folder: batched, prefetched, resumable, with progress."""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import __version__
from .errors import FeatureFolderError, FolderConflictError, FolderWriteError, SettingsError
from .features import (
    FEATURES_DIR,
    MANIFEST,
    ChipRecord,
    FolderMetadata,
    GridRecord,
    ModelRecord,
    PreprocessingRecord,
    chip_relpath,
    read_chip,
    read_manifest,
    write_chip,
    write_manifest,
)
from .features.temporaries import abandoned
from .geo import Chip, ChipGrid, chip_count, crs_label, parse_extent
from .geo.chips import MAX_CHIPS, MAX_SIDE
from .models import SamBackend, get_spec, load_backend
from .models.backend import MIXED_PRECISION_FAMILIES
from .raster import FINGERPRINT_VERSION, RasterSource, ReadSpec, ValueRange
from .settings import EncodeSettings, settings_with

MANIFEST_FLUSH_SECONDS = 30.0

Progress = Callable[[int, int], None]

__all__ = ["EncodeResult", "EncodePlan", "EncodeSettings", "Progress", "encode", "plan_chips",
           "plan_encoding", "prepare_folder", "check_target", "settings_with"]


@dataclass
class EncodeResult:
    """What a run did: chips encoded now, found done, skipped as nodata; the folder's size."""

    folder: Path
    grid_chip_count: int
    encoded: int = 0
    already_done: int = 0
    nodata: int = 0
    seconds: float = 0.0
    chips_per_second: float = 0.0


def encode(raster: str, out_dir: str | Path, settings: EncodeSettings | None = None, *,
           overwrite: bool = False, progress: bool | Progress = True, **kwargs) -> EncodeResult:
    """Encode `raster` into the feature folder `out_dir` (see `EncodeSettings` for kwargs).

    Re-running with the same settings resumes: chips already written are kept. A folder that holds
    a different encoding is refused unless `overwrite`. progress: True for a progress bar, or a
    callable(done, total) called after each batch.
    """
    settings = settings_with(settings, **kwargs)
    for name, value in (("raster", raster), ("out_dir", out_dir)):
        if not isinstance(value, (str, os.PathLike)):
            raise SettingsError(f"{name} {value!r} is not valid: give a path (str or pathlib.Path)")
    out = Path(out_dir)
    get_spec(settings.model)
    check_target(out)
    with RasterSource(os.fspath(raster), crs=settings.crs) as source:
        plan = plan_encoding(source, settings)
        state = prepare_folder(out, plan.metadata, overwrite)
        return _run(source, plan, settings, state, progress)


@dataclass(frozen=True)
class EncodePlan:
    """What an encoding of one raster with given settings is: how pixels are read, the chip grid,
    the model, and the metadata its feature folder records."""

    read_spec: ReadSpec
    chips: ChipGrid
    backend: SamBackend
    metadata: FolderMetadata
    mixed_precision: bool


def plan_encoding(source: RasterSource, settings: EncodeSettings,
                  backend: SamBackend | None = None) -> EncodePlan:
    """Plan the encoding of the open `source` (loads the model unless `backend` is given)."""
    backend = backend or load_backend(settings.model, settings.device)
    read_spec, chips = plan_chips(source, settings, backend.spec.input_size)
    metadata = _metadata(source, read_spec, chips, backend, settings.dtype)
    mixed = settings.mixed_precision and backend.spec.family in MIXED_PRECISION_FAMILIES
    return EncodePlan(read_spec, chips, backend, metadata, mixed)


def plan_chips(source: RasterSource, settings: EncodeSettings, size: int) -> tuple[ReadSpec, ChipGrid]:
    """How the open `source` is read (bands, value range, grid) and cut into `size`² chips.

    The chip count is computed from the grid's size alone and checked against `MAX_CHIPS`
    before any pixel is read, so an absurd resolution or extent costs nothing.
    """
    extent = parse_extent(settings.extent) if settings.extent is not None else None
    grid = source.plan_grid(settings.crs, settings.resolution, extent)
    stride = size // 2 if settings.stride is None else settings.stride
    if not 0 < stride <= size:
        raise SettingsError(f"stride {stride} must be between 1 and the chip size {size}")
    check_grid_size(grid.width, grid.height, size, stride)
    bands = settings.bands or tuple(range(1, min(3, source.count) + 1))
    value_range = ValueRange(*settings.value_range) if settings.value_range else None
    read_spec = source.spec(bands, grid, value_range, settings.percentiles)
    return read_spec, ChipGrid(grid, size, stride)


def check_grid_size(width: int, height: int, size: int, stride: int) -> int:
    """The chip count of a `width` × `height` px grid; SettingsError past `MAX_CHIPS` chips
    or `MAX_SIDE` px a side, saying how to make it smaller."""
    count = chip_count(width, size, stride) * chip_count(height, size, stride)
    if count > MAX_CHIPS or max(width, height) > MAX_SIDE:
        raise SettingsError(
            f"the grid of {width:,} x {height:,} px would hold {count:,} chips, more than the "
            f"{MAX_CHIPS:,} samscape encodes in one folder; give a coarser --resolution, a "
            "smaller --extent or a larger --stride"
        )
    return count


@dataclass
class FolderState:
    """A feature folder being written: its metadata, the chips written, the chips all nodata."""

    folder: Path
    metadata: FolderMetadata
    records: dict[int, ChipRecord]
    skipped: set[int]

    def flush(self) -> None:
        metadata = self.metadata.model_copy(update={"skipped_chip_ids": tuple(sorted(self.skipped))})
        try:
            write_manifest(self.folder, metadata, list(self.records.values()))
        except OSError as exc:
            raise _write_error(self.folder, exc) from None

    def write(self, chip: Chip, pixels_shape: tuple[int, int], features: dict[str, torch.Tensor]
              ) -> None:
        """Store one chip's features (not yet in the manifest until `flush`)."""
        try:
            write_chip(self.folder / chip_relpath(chip.chip_id), chip.chip_id, self.metadata.model.id,
                       pixels_shape, features, self.metadata.dtype)
        except OSError as exc:
            raise _write_error(self.folder, exc) from None
        self.records[chip.chip_id] = ChipRecord.from_chip(chip)


def check_target(out: Path) -> None:
    """Refuse a file, or a non-empty folder that is not a feature folder (leftovers of a run
    killed before its first manifest, an empty features/ and a temporary manifest, don't count)."""
    if out.exists() and not out.is_dir():
        raise FolderConflictError(f"'{out}' is a file; give a folder path for the features")
    if out.is_dir() and not (out / MANIFEST).is_file() and not all(map(_leftover, out.iterdir())):
        raise FolderConflictError(
            f"'{out}' is not empty and is not a feature folder; choose a new or empty folder"
        )


def _leftover(path: Path) -> bool:
    if path.name == FEATURES_DIR:
        return path.is_dir() and not any(path.iterdir())
    return path.name.startswith(f".{MANIFEST}.") and path.name.endswith(".tmp")


def _metadata(source: RasterSource, spec: ReadSpec, chips: ChipGrid, backend: SamBackend,
              dtype: str) -> FolderMetadata:
    grid = spec.grid
    pre = backend.preprocessing
    return FolderMetadata(
        model=ModelRecord(**backend.info.to_dict()),
        preprocessing=PreprocessingRecord(
            source_name=source.name,
            source_fingerprint=source.fingerprint(),
            bands=spec.bands,
            value_range=(spec.value_range.low, spec.value_range.high),
            crs=crs_label(grid.crs),
            resolution=grid.res,
            extent=tuple(grid.bounds),
            grid=GridRecord.from_grid(grid),
            chip_size=chips.size,
            stride=chips.stride,
            resize="square" if pre.family == "sam2" else "longest_side_pad",
            mean=pre.mean,
            std=pre.std,
        ),
        dtype=dtype,
        feature_shapes=backend.feature_shapes(),
        grid_chip_count=len(chips),
        samscape_version=__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


OVERWRITE_FIX = "pass --overwrite to encode it again, or choose another folder"


def prepare_folder(out: Path, metadata: FolderMetadata, overwrite: bool,
                   fix: str = OVERWRITE_FIX) -> FolderState:
    """Start a new folder, or resume one holding the same encoding, or start over if asked;
    `fix` ends the message of a FolderConflictError (what the caller's user can do)."""
    skipped: set[int] = set()
    if (out / MANIFEST).is_file():
        try:
            existing, _ = read_manifest(out)
        except FeatureFolderError:
            if not overwrite:
                raise FolderConflictError(f"'{out}' holds an unreadable manifest; {fix}") from None
            existing = None
        if existing is not None and existing.same_encoding(metadata) and not overwrite:
            metadata = metadata.model_copy(update={"created": existing.created})
            skipped = set(existing.skipped_chip_ids)
        elif not overwrite:
            raise FolderConflictError(f"{_conflict(out, existing, metadata)}; {fix}")
        else:
            _remove_own_files(out)
    try:
        for leftover in out.glob(f".{MANIFEST}.*.tmp"):
            if abandoned(leftover):
                leftover.unlink(missing_ok=True)
        (out / FEATURES_DIR).mkdir(parents=True, exist_ok=True)
        state = FolderState(out, metadata, {}, skipped)
        _verify_existing(state)
        state.flush()
    except OSError as exc:
        raise _write_error(out, exc) from None
    return state


def _write_error(out: Path, exc: OSError) -> FolderWriteError:
    if isinstance(exc, FolderWriteError):  # already said, by a write inside the failing step
        return exc
    reason = exc.strerror or str(exc).splitlines()[0]
    return FolderWriteError(f"cannot write the feature folder '{out}': {reason}; choose a folder you "
                            "can write to, or free some space")


def _remove_own_files(out: Path) -> None:
    """Remove what samscape wrote in `out` (the manifest, chip files, temporaries of both); any
    other file, in `features/` too, stays."""
    try:
        (out / MANIFEST).unlink(missing_ok=True)
        for file in (out / FEATURES_DIR).glob("*"):
            if _own_chip_file(file.name) is not None or CHIP_TEMPORARY.fullmatch(file.name):
                file.unlink(missing_ok=True)
    except OSError as exc:
        raise _write_error(out, exc) from None


CHIP_FILE = re.compile(r"chip_(\d{6,})\.pt")
CHIP_TEMPORARY = re.compile(r"\.chip_\d{6,}\.pt\.\d+(\.[0-9a-f]+)?\.tmp")


def _own_chip_file(name: str) -> int | None:
    """The chip id of a file named as samscape names chip files, else None."""
    match = CHIP_FILE.fullmatch(name)
    return int(match.group(1)) if match else None


def _conflict(out: Path, old: FolderMetadata, new: FolderMetadata) -> str:
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
    if old.model != new.model:
        return f"model {old.model.id}, not {new.model.id}"
    if old.dtype != new.dtype:
        return f"dtype {old.dtype}, not {new.dtype}"
    for key in PreprocessingRecord.model_fields:
        a, b = getattr(old.preprocessing, key), getattr(new.preprocessing, key)
        if a != b:
            return f"{key} {a}, not {b}"
    return "other settings"


def _verify_existing(state: FolderState) -> None:
    """Keep exactly the chip files that load and verify, in the manifest or not (a killed run may
    have written some after its last manifest update); delete temporary and corrupt files."""
    features = state.folder / FEATURES_DIR
    for tmp in features.glob(".chip_*.tmp"):
        if CHIP_TEMPORARY.fullmatch(tmp.name) and abandoned(tmp):
            tmp.unlink(missing_ok=True)
    meta = state.metadata
    pre = meta.preprocessing
    grid = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
    records = {}
    for file in sorted(features.glob("chip_*.pt")):
        chip_id = _own_chip_file(file.name)
        if chip_id is None:
            continue  # not a name samscape writes: the user's
        try:
            if not 0 <= chip_id < len(grid):
                raise ValueError("not a chip of this grid")
            read_chip(file, chip_id, meta.model.id, meta.dtype, meta.feature_shapes)
        except Exception:
            file.unlink(missing_ok=True)
            continue
        records[chip_id] = ChipRecord.from_chip(grid.chip(chip_id))
    state.records = records


def _run(source: RasterSource, plan: EncodePlan, settings: EncodeSettings, state: FolderState,
         progress: bool | Progress) -> EncodeResult:
    chips, backend = plan.chips, plan.backend
    done = set(state.records) | state.skipped
    todo = [chip for chip in chips if chip.chip_id not in done]
    result = EncodeResult(state.folder, len(chips), already_done=len(done))
    started = last_flush = time.perf_counter()
    report = progress if callable(progress) else None
    bar = tqdm(total=len(todo), unit="chip", desc="encoding", disable=report is not None or not progress,
               dynamic_ncols=True)
    try:
        for batch, nodata in _prefetch(_batches(source, plan.read_spec, todo, settings.batch_size)):
            for chip in nodata:
                state.skipped.add(chip.chip_id)
                result.nodata += 1
            if batch:
                features = backend.encode([torch.from_numpy(p) for _, p in batch], plan.mixed_precision)
                for (chip, pixels), feats in zip(batch, features, strict=True):
                    state.write(chip, pixels.shape[:2], feats)
                result.encoded += len(batch)
            bar.update(len(batch) + len(nodata))
            if report is not None:
                report(result.encoded + result.nodata, len(todo))
            if time.perf_counter() - last_flush > MANIFEST_FLUSH_SECONDS:
                state.flush()
                last_flush = time.perf_counter()
    finally:
        bar.close()
        state.flush()
    result.seconds = time.perf_counter() - started
    result.chips_per_second = result.encoded / result.seconds if result.seconds else 0.0
    return result


_Batch = tuple[list[tuple[Chip, np.ndarray]], list[Chip]]


def _batches(source: RasterSource, spec: ReadSpec, todo: list[Chip], size: int
             ) -> Iterator[_Batch]:
    """Read chips in order; yield (up to `size` chips with pixels, chips that were all nodata)."""
    batch, nodata = [], []
    for chip in todo:
        pixels = source.read_chip(spec, chip.window)
        if pixels is None:
            nodata.append(chip)
        else:
            batch.append((chip, pixels))
        if len(batch) == size:
            yield batch, nodata
            batch, nodata = [], []
    if batch or nodata:
        yield batch, nodata


def _prefetch(items: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """Run `items` in a background thread, `depth` ahead, so reading overlaps encoding."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    end = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(exc)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
