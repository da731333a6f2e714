"""`samscape.encode`: raster + settings → feature folder, resumable, with progress."""

from __future__ import annotations

import glob
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from . import validate
from .chiploop import ProgressCallback, StageSeconds, encode_chips
from .errors import FolderWriteError, SettingsError
from .features import FolderState, check_target, one_writer, prepare_folder
from .features.storage import location_of
from .features.temporaries import abandoned
from .models import get_spec
from .planning import EncodePlan, plan_encoding, start_encoding
from .raster import RasterSource
from .settings import EncodeSettings, settings_with

if TYPE_CHECKING:
    from .cluster import Cluster

MANIFEST_FLUSH_SECONDS = 30.0
FORMATS = ("samscape", "geosam")

__all__ = ["FORMATS", "EncodeResult", "ProgressCallback", "encode", "encoding_folder"]


@dataclass
class EncodeResult:
    """What a run did: chips encoded now, found done, skipped as nodata; the folder's size; the
    seconds it took and each stage's busy seconds in them (`chiploop.StageSeconds`); the batch
    size it ran with and whether the image encoder ran compiled; the Dask workers it ran on (0:
    this process)."""

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
    workers: int = 0


def encode(raster: str, out_dir: str | Path, settings: EncodeSettings | None = None, *,
           overwrite: bool = False, progress: bool | ProgressCallback = True,
           on_step: Callable[[str], None] | None = None, format: str = "samscape",
           base_path: str | None = None, checkpoint: str | None = None, keep_encoding: bool = False,
           **kwargs) -> EncodeResult:
    """Encode `raster` into the feature folder `out_dir`, a local folder or an object store URL
    such as `s3://bucket/prefix` (see `EncodeSettings` for kwargs).

    Re-running with the same settings resumes: chips already written are kept. A folder that holds
    a different encoding is refused unless `overwrite`. progress: True for a progress bar, or a
    callable(done, total) called after each batch. on_step: called with the name of a start-up
    step that takes a while ("choosing batch size", "compiling", "converting"), which the bar
    shows too. cluster='local', 'local:N' or a Dask scheduler's address encodes on a Dask cluster
    (`samscape.cluster`; the `cluster` extra): same folder, chip for chip.

    format="geosam" writes a Geo-SAM v2 folder: the raster is encoded into the samscape folder
    `encoding_folder(out_dir)` beside it (resumed as any encoding; `overwrite` applies to it), then
    converted into `out_dir` as `convert(..., to="geosam", base_path=, checkpoint=)` does (DST
    appears whole; a non-empty `out_dir` is refused before anything is encoded), and removed
    unless `keep_encoding`. The format is not a setting: it changes where the features go, not
    what they are.
    """
    settings = settings_with(settings, **kwargs)
    overwrite = validate.flag("overwrite", overwrite)
    keep_encoding = validate.flag("keep_encoding", keep_encoding)
    progress = validate.progress(progress)
    base_path = validate.path_text("base_path", base_path)
    checkpoint = validate.path_text("checkpoint", checkpoint)
    for name, value in (("raster", raster), ("out_dir", out_dir)):
        if not isinstance(value, (str, os.PathLike)):
            raise SettingsError(f"{name} {value!r} is not valid: give a path (str or pathlib.Path)")
    if format not in FORMATS:
        raise SettingsError(f"format {format!r} is not valid: give one of {', '.join(FORMATS)}")
    if format != "geosam" and (base_path is not None or checkpoint is not None or keep_encoding):
        raise SettingsError("base_path, checkpoint and keep_encoding are only for format geosam; drop them")
    out = location_of(out_dir)
    get_spec(settings.model)
    if format == "geosam":
        if not isinstance(out, Path):
            raise SettingsError(f"format geosam writes a local folder (Geo-SAM opens no object storage), "
                                f"not {out}; give a local OUT_DIR, or encode there as samscape")
        return _encode_geosam(os.fspath(raster), out, settings, overwrite, progress, on_step,
                              base_path, checkpoint, keep_encoding)
    check_target(out)
    return _encode_folder(os.fspath(raster), out, settings, overwrite, progress, on_step)


def _encode_folder(raster: str, out: Path | str, settings: EncodeSettings, overwrite: bool,
                   progress: bool | ProgressCallback, on_step: Callable[[str], None] | None,
                   check_plan: Callable[[EncodePlan], None] | None = None) -> EncodeResult:
    """Plan, prepare the samscape folder `out` and run the loop (on the cluster `settings` names,
    if any); `check_plan` may refuse the plan before anything is written."""
    with RasterSource(raster, crs=settings.crs) as source, _connected(settings) as cluster:
        backend = None
        if cluster is not None:
            from .cluster import planning_backend

            backend = planning_backend(settings)
        plan = plan_encoding(source, settings, backend)
        if check_plan is not None:
            check_plan(plan)
        with one_writer(out):
            state = prepare_folder(out, plan.metadata, overwrite)
            return _run(source, plan, settings, state, progress, on_step, cluster)


@contextmanager
def _connected(settings: EncodeSettings) -> Iterator[Cluster | None]:
    """The Dask cluster `settings.cluster` names, connected for the run; None without one."""
    if settings.cluster is None:
        yield None
        return
    from .cluster import connect

    with connect(settings.cluster, settings.device) as cluster:
        yield cluster


def encoding_folder(out: Path) -> Path:
    """The hidden samscape folder beside `out` that `encode(format="geosam")` encodes into."""
    out = out.absolute()
    return out.parent / f".{out.name}.samscape-encoding"


def _encode_geosam(raster: str, out: Path, settings: EncodeSettings, overwrite: bool,
                   progress: bool | ProgressCallback, on_step: Callable[[str], None] | None,
                   base_path: str | None, checkpoint: str | None, keep: bool) -> EncodeResult:
    """Encode into `encoding_folder(out)`, convert it into `out`, remove it unless `keep`; what
    the conversion would refuse is refused first (the model and `out` before the model loads, the
    chip geometry before any chip is encoded)."""
    from .features.convert import check_geosam_geometry, check_geosam_target, convert

    work = encoding_folder(out)
    _remove_abandoned(work)
    if not keep and _converted_earlier(work, out, raster, settings):  # killed before the removal
        from .features import FeatureFolder

        encoded = FeatureFolder.open(work)
        result = EncodeResult(out, encoded.metadata.grid_chip_count, already_done=len(encoded))
        _remove(work)
        return result
    check_geosam_target(settings.model, out, base_path, checkpoint)
    check_target(work)
    result = _encode_folder(raster, work, settings, overwrite, progress, on_step, lambda plan:
                            check_geosam_geometry(plan.metadata, f"the encoding of '{raster}'"))
    if on_step is not None:
        on_step("converting")
    convert(work, out, "geosam", base_path=base_path, checkpoint=checkpoint, progress=progress)
    if not keep:
        _remove(work)
    result.folder = out
    return result


def _converted_earlier(work: Path, out: Path, raster: str, settings: EncodeSettings) -> bool:
    """Whether `out` is a Geo-SAM folder written from the encoding `work` (its manifest is newer),
    and `work` is this encoding of `raster` (not one kept from another run)."""
    from .features import FeatureFolder
    from .features.geosam import is_geosam_folder
    from .features.manifest import MANIFEST

    try:
        if not (is_geosam_folder(out) and (work / MANIFEST).is_file()
                and (out / MANIFEST).stat().st_mtime >= (work / MANIFEST).stat().st_mtime):
            return False
    except OSError:
        return False
    with RasterSource(raster, crs=settings.crs) as source:
        planned = plan_encoding(source, settings).metadata
    return FeatureFolder.open(work).metadata.same_encoding(planned)


def _remove(work: Path) -> None:
    """Remove the folder `work`: renamed to a temporary first, so a kill midway leaves a name the
    next run into the same place removes (`temporaries.abandoned`), never a half-deleted folder."""
    gone = work.with_name(f"{work.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        os.rename(work, gone)
    except OSError as exc:
        raise FolderWriteError(f"cannot remove the encoding '{work}' (the Geo-SAM folder is written): "
                               f"{exc.strerror}; remove it yourself") from None
    shutil.rmtree(gone, ignore_errors=True)


def _remove_abandoned(work: Path) -> None:
    for old in work.parent.glob(f"{glob.escape(work.name)}.*.tmp"):
        if old.is_dir() and abandoned(old):
            shutil.rmtree(old, ignore_errors=True)


def _run(source: RasterSource, plan: EncodePlan, settings: EncodeSettings, state: FolderState,
         progress: bool | ProgressCallback, on_step: Callable[[str], None] | None,
         cluster: Cluster | None = None) -> EncodeResult:
    """Encode the chips `state` lacks, made one at a time as the loop takes them (never listed);
    flush the manifest every `MANIFEST_FLUSH_SECONDS` (what is new since) and at the end, whatever
    happens (all of it, in one file). On a `cluster` its workers encode the chips and the
    results come back as the same batches."""
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
        if cluster is None:
            start = start_encoding(plan, settings, len(remaining), step)
            batches = encode_chips(source, plan, todo, start.batch_size, state)
        else:
            from .cluster import encode_on

            result.workers = len(cluster.workers())
            start, batches = encode_on(cluster, source, plan, settings, remaining, state)
        result.batch_size = start.batch_size
        with closing(batches):
            for batch in batches:
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
