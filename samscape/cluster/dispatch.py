"""The client's side of a cluster encoding: the chips to do split into tasks of `TASK_BATCHES`
batches, at most `IN_FLIGHT_PER_THREAD` tasks per worker thread submitted at a time, and each task's
chips recorded in the folder's state as its result comes back, as a `BatchDone` like the local loop's.

Tasks follow the order of the chips to do, so each task's batches are the local run's batches
(where no chip is all nodata); the client keeps the manifest, so a task whose result never comes
back (the client killed) leaves chip files that the next run verifies and keeps.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..chiploop import BatchDone
from ..errors import ClusterError, SamscapeError, reason
from ..features import FEATURES_DIR, ChipRecord, FolderState
from ..features.temporaries import abandoned
from ..features.writer import CHIP_TEMPORARY
from ..models import load_architecture
from ..planning import EncodePlan, Start
from ..raster import RasterSource
from ..settings import EncodeSettings
from .connect import Cluster
from .job import EncodeJob, TaskDone, choose_batch_size, encode_task

__all__ = ["IN_FLIGHT_PER_THREAD", "TASK_BATCHES", "encode_on", "planning_backend"]

TASK_BATCHES = 2
"""Batches of chips per task: few enough that a dead worker loses little, enough that a task's
start (a raster handle, reader threads) is small beside it."""
IN_FLIGHT_PER_THREAD = 2
"""Tasks submitted per worker thread at a time: one running, one queued behind it."""


def planning_backend(settings: EncodeSettings) -> Any:
    """The model the client plans with: its architecture without its weights (it never encodes),
    so that the client reads no gigabytes and a local cluster's workers have the GPUs to themselves."""
    return load_architecture(settings.model)


def encode_on(cluster: Cluster, source: RasterSource, plan: EncodePlan, settings: EncodeSettings,
              remaining: np.ndarray, state: FolderState) -> tuple[Start, Generator[BatchDone, None, None]]:
    """Start encoding chips `remaining` (ids, in order) of `plan` on `cluster` into `state`'s
    folder: the batch size (an int setting, else a worker's "auto") and the batches as their
    tasks finish. Closing the generator cancels the tasks not finished."""
    raster = os.path.abspath(source.path) if os.path.exists(source.path) else source.path
    job = EncodeJob(raster, replace(settings, cluster=None), plan.read_spec, plan.chips, plan.metadata,
                    plan.mixed_precision, _where(state.folder), cluster.workers_per_host())
    if not len(remaining):
        return Start(settings.batch_size if isinstance(settings.batch_size, int) else 1), _nothing()
    if isinstance(settings.batch_size, int):
        size = max(1, min(settings.batch_size, len(remaining)))
    else:
        size = _result(cluster.client.submit(choose_batch_size, job, len(remaining), pure=False), ())
    return Start(size), _batches(cluster, job, remaining, size, state)


def _nothing() -> Generator[BatchDone, None, None]:
    yield from ()


def _tasks(remaining: np.ndarray, per_task: int) -> Iterator[tuple[int, ...]]:
    for first in range(0, len(remaining), per_task):
        yield tuple(int(i) for i in remaining[first:first + per_task])


def _batches(cluster: Cluster, job: EncodeJob, remaining: np.ndarray, size: int, state: FolderState
             ) -> Generator[BatchDone, None, None]:
    from distributed import as_completed

    client = cluster.client
    run = uuid.uuid4().hex[:12]
    tasks = _tasks(remaining, TASK_BATCHES * size)
    chips_of: dict[Any, tuple[int, ...]] = {}
    running = as_completed()

    def submit() -> None:
        ids = next(tasks, None)
        if ids is not None:
            future = client.submit(encode_task, job, ids, size, key=f"samscape-encode-{run}-{ids[0]}")
            chips_of[future] = ids
            running.add(future)

    try:
        for _ in range(IN_FLIGHT_PER_THREAD * cluster.threads()):
            submit()
        for future in running:
            done: TaskDone = _result(future, chips_of.pop(future))
            submit()
            written = tuple(job.chips.chip(i) for i in done.written)
            nodata = tuple(job.chips.chip(i) for i in done.nodata)
            for chip in written:
                state.records[chip.chip_id] = ChipRecord.from_chip(chip)
            for chip in nodata:
                state.skip(chip)
            yield BatchDone(written, nodata, done.seconds, done.stages)
        _remove_abandoned(state)
    finally:
        if chips_of:
            client.cancel(list(chips_of))


def _result(future: Any, chips: tuple[int, ...]) -> Any:
    """The task's result; its error as a one-line SamscapeError."""
    from distributed.scheduler import KilledWorker

    what = f"chips {chips[0]}-{chips[-1]}" if chips else "the batch size probe"
    try:
        return future.result()
    except SamscapeError:
        raise
    except KilledWorker:
        raise ClusterError(f"{what} ended every worker that encoded them (each died); check the "
                           "workers' memory and logs, then run the same command again to resume") from None
    except Exception as exc:
        why = reason(exc)
        raise ClusterError(f"a worker failed encoding {what} ({type(exc).__name__}: {why}); run the "
                           "same command again to resume") from None


def _where(folder: Path | str) -> str:
    """The folder as workers are told it: an absolute local path, or the store URL as it is."""
    return os.path.abspath(folder) if isinstance(folder, Path) else folder


def _remove_abandoned(state: FolderState) -> None:
    """Remove chip temporaries of worker processes that died here (a worker killed mid-write; an
    object store has none)."""
    if not isinstance(state.folder, Path):
        return
    for tmp in (state.folder / FEATURES_DIR).glob(".chip_*.tmp"):
        if CHIP_TEMPORARY.fullmatch(tmp.name) and abandoned(tmp):
            tmp.unlink(missing_ok=True)
