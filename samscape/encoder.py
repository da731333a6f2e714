"""Raster + chip grid + model → feature folder: batched, prefetched, resumable, with progress."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import SettingsError
from .features import FolderState, check_target, prepare_folder
from .geo import Chip
from .models import get_spec
from .planning import EncodePlan, plan_chips, plan_encoding
from .raster import RasterSource, ReadSpec
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
