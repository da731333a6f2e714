"""What a Dask worker runs: a few chips of an encoding through the one chip loop, written into the
feature folder through `features.FolderState`.

A worker process keeps its model (`models.load_backend`'s per-process cache, held here too), its
raster handles and its checked raster fingerprints between tasks, and runs one encoding loop at a
time (the loop sizes its threads, and a GPU's memory, for one). Writes are idempotent: a chip file
is renamed into place whole, so a task run again (its worker died) writes the same file again.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from ..chiploop import StageSeconds, default_readers, encode_chips
from ..errors import ClusterError
from ..features import FolderMetadata, FolderState, ModelRecord
from ..features.storage import location_of
from ..geo import ChipGrid
from ..planning import EncodePlan, start_encoding
from ..raster import RasterSource, ReadSpec
from ..settings import EncodeSettings
from ..threads import ENV, cores, parse_threads

__all__ = ["EncodeJob", "TaskDone", "choose_batch_size", "encode_task"]


@dataclass(frozen=True)
class EncodeJob:
    """One encoding as its workers need it: the raster (a path or URL every worker reads) and its
    assigned CRS, the settings, the plan's read spec, chip grid and folder metadata (the client's
    plan: workers never plan), the folder every worker writes to, and the worker processes per
    host (which share its cores)."""

    raster: str
    settings: EncodeSettings
    read_spec: ReadSpec
    chips: ChipGrid
    metadata: FolderMetadata
    mixed_precision: bool
    folder: str
    workers_per_host: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TaskDone:
    """A task's chips: ids written (their files in the folder), ids all nodata, the backend's
    seconds, each stage's busy seconds, and the worker that ran it."""

    written: tuple[int, ...]
    nodata: tuple[int, ...]
    seconds: float
    stages: StageSeconds
    worker: str


_RUN = threading.Lock()
_sources: dict[tuple[str, str | None], tuple[RasterSource, str]] = {}
_held: dict[tuple, object] = {}


def choose_batch_size(job: EncodeJob, chips: int) -> int:
    """The batch size `job.settings.batch_size` gives on this worker ("auto": its device's)."""
    with _RUN:
        plan = _plan(job)
        return start_encoding(plan, job.settings, chips, allow_compile=False).batch_size


def encode_task(job: EncodeJob, chip_ids: tuple[int, ...], batch_size: int) -> TaskDone:
    """Encode chips `chip_ids` of `job` in batches of `batch_size` (the client's, so batches are
    a local run's) into the job's folder."""
    with _RUN:
        plan = _plan(job)
        settings = replace(job.settings, batch_size=batch_size)
        start = start_encoding(plan, settings, batch_size)
        sink = FolderState.empty(_folder(job.folder), job.metadata)
        source = _source(job)
        written: list[int] = []
        nodata: list[int] = []
        seconds, stages = 0.0, StageSeconds()
        chips = (job.chips.chip(chip_id) for chip_id in chip_ids)
        for batch in encode_chips(source, plan, chips, start.batch_size, sink,
                                  readers=default_readers(_threads(job))):
            written += (c.chip_id for c in batch.encoded)
            nodata += (c.chip_id for c in batch.nodata)
            seconds += batch.seconds
            stages += batch.stages
        return TaskDone(tuple(written), tuple(nodata), seconds, stages, _worker_name())


def _plan(job: EncodeJob) -> EncodePlan:
    """The job's plan on this worker: the client's, with this process's backend (loaded once),
    which must be the model the folder records."""
    import torch

    from ..models import load_backend

    torch.set_num_threads(_threads(job))
    settings = job.settings
    backend = load_backend(settings.model, settings.device)
    if ModelRecord(**backend.info.to_dict()) != job.metadata.model:
        raise ClusterError(
            f"worker {_worker_name()} has another model {settings.model!r} than the client (weights "
            f"{backend.info.weights_sha256[:12]}, not {job.metadata.model.weights_sha256[:12]}); "
            "install the same model on every worker (samscape models download/import)")
    _held.clear()
    _held[(settings.model, settings.device)] = backend  # kept loaded between tasks
    return EncodePlan(job.read_spec, job.chips, backend, job.metadata, job.mixed_precision)


def _source(job: EncodeJob) -> RasterSource:
    """This process's handle on the job's raster, checked against the client's fingerprint when
    opened (a handle kept from a run of another fingerprint, a file since replaced, is reopened)."""
    key = (job.raster, job.settings.crs)
    expected = job.metadata.preprocessing.source_fingerprint
    kept = _sources.pop(key, None)
    if kept is not None and kept[1] == expected:
        _sources[key] = kept
        return kept[0]
    if kept is not None:
        kept[0].close()
    source = RasterSource(job.raster, crs=job.settings.crs)
    if source.fingerprint() != expected:
        source.close()
        raise ClusterError(
            f"worker {_worker_name()} reads another raster at '{job.raster}' than the client "
            "(its pixels, size or georeferencing differ); give every worker the same file, "
            "at a path or URL they all see")
    _sources[key] = (source, expected)
    return source


def _folder(folder: str) -> Path | str:
    """The feature folder as the worker writes it: a local path it must see, or a store URL."""
    path = location_of(folder)
    if not isinstance(path, Path):
        return path
    if not (path / "features").is_dir():
        raise ClusterError(f"worker {_worker_name()} cannot see the feature folder '{folder}'; "
                           "give a folder every worker sees at the same path")
    return path


def _threads(job: EncodeJob) -> int:
    """torch threads of this worker: $SAMSCAPE_THREADS, else its host's cores shared among the
    worker processes on that host."""
    if os.environ.get(ENV, "").strip():
        return parse_threads(os.environ[ENV], ENV)
    host = _worker_host()
    sharing = dict(job.workers_per_host).get(host, 1)
    return max(1, cores() // max(1, sharing))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _worker_host() -> str:
    address = _worker_name()
    return address.split("://")[-1].rsplit(":", 1)[0]
