"""`samscape.encode`: raster + settings → feature folder, resumable, with progress."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .chiploop import ProgressCallback, StageSeconds, encode_chips
from .errors import SettingsError
from .features import FolderState, check_target, prepare_folder
from .features.storage import location_of
from .models import get_spec
from .planning import EncodePlan, plan_encoding, start_encoding
from .raster import RasterSource
from .settings import EncodeSettings, settings_with

MANIFEST_FLUSH_SECONDS = 30.0

__all__ = ["EncodeResult", "ProgressCallback", "encode"]


@dataclass
class EncodeResult:
    """What a run did: chips encoded now, found done, skipped as nodata; the folder's size; the
    seconds it took and each stage's busy seconds in them (`chiploop.StageSeconds`); the batch
    size it ran with and whether the image encoder ran compiled."""

    folder: Path | str
    grid_chip_count: int
    encoded: int = 0
    already_done: int = 0
    nodata: int = 0
    seconds: float = 0.0
    chips_per_second: float = 0.0
    stages: StageSeconds = StageSeconds()
    batch_size: int = 0
    compiled: bool = False


def encode(raster: str, out_dir: str | Path, settings: EncodeSettings | None = None, *,
           overwrite: bool = False, progress: bool | ProgressCallback = True,
           on_step: Callable[[str], None] | None = None, **kwargs) -> EncodeResult:
    """Encode `raster` into the feature folder `out_dir`, a local folder or an object store URL
    such as `s3://bucket/prefix` (see `EncodeSettings` for kwargs).

    Re-running with the same settings resumes: chips already written are kept. A folder that holds
    a different encoding is refused unless `overwrite`. progress: True for a progress bar, or a
    callable(done, total) called after each batch. on_step: called with the name of a start-up
    step that takes a while ("choosing batch size", "compiling"), which the bar shows too.
    """
    settings = settings_with(settings, **kwargs)
    for name, value in (("raster", raster), ("out_dir", out_dir)):
        if not isinstance(value, (str, os.PathLike)):
            raise SettingsError(f"{name} {value!r} is not valid: give a path (str or pathlib.Path)")
    out = location_of(out_dir)
    get_spec(settings.model)
    check_target(out)
    with RasterSource(os.fspath(raster), crs=settings.crs) as source:
        plan = plan_encoding(source, settings)
        state = prepare_folder(out, plan.metadata, overwrite)
        return _run(source, plan, settings, state, progress, on_step)


def _run(source: RasterSource, plan: EncodePlan, settings: EncodeSettings, state: FolderState,
         progress: bool | ProgressCallback, on_step: Callable[[str], None] | None) -> EncodeResult:
    """Encode the chips `state` lacks, made one at a time as the loop takes them (never listed);
    flush the manifest every `MANIFEST_FLUSH_SECONDS` (what is new since) and at the end, whatever
    happens (all of it, in one file)."""
    done = state.records.mask()
    done[list(state.skipped)] = True
    remaining = np.flatnonzero(~done)
    todo = (plan.chips.chip(int(chip_id)) for chip_id in remaining)
    result = EncodeResult(state.folder, len(plan.chips), already_done=len(done) - len(remaining))
    started = last_flush = time.perf_counter()
    report = progress if callable(progress) else None
    bar = tqdm(total=len(remaining), unit="chip", desc="encoding",
               disable=report is not None or not progress, dynamic_ncols=True)

    def step(name: str) -> None:
        bar.set_description(name, refresh=True)
        if on_step is not None:
            on_step(name)

    try:
        start = start_encoding(plan, settings, len(remaining), step)
        result.batch_size = start.batch_size
        for batch in encode_chips(source, plan, todo, start.batch_size, state):
            if start.compiling and not result.encoded + result.nodata:
                bar.set_description("encoding", refresh=False)
            result.encoded += len(batch.encoded)
            result.nodata += len(batch.nodata)
            result.stages += batch.stages
            bar.update(len(batch))
            if report is not None:
                report(result.encoded + result.nodata, len(remaining))
            if time.perf_counter() - last_flush > MANIFEST_FLUSH_SECONDS:
                state.flush(append=True)
                last_flush = time.perf_counter()
    finally:
        bar.close()
        state.flush()
    result.compiled = start.compiled
    result.seconds = time.perf_counter() - started
    result.chips_per_second = result.encoded / result.seconds if result.seconds else 0.0
    return result
