"""Encoding the server runs besides answering: background encode jobs into a new feature folder,
and the progress of the live encoding a request on a live source runs."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..encoder import encode
from ..errors import NotFoundError, SamscapeError
from ..settings import EncodeSettings


class EncodeProgress:
    """Chips encoded so far by the request running on a live source, summed over the encodings
    it starts (one per group of chips it reaches); `encoding` until the request ends. An encoder
    progress callback: called with (done, total)."""

    done: int
    total: int
    active: bool

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


@contextmanager
def encoding(progress: EncodeProgress) -> Iterator[None]:
    """Marks a live source's encoding `progress` finished when the request's block ends."""
    try:
        yield
    finally:
        progress.finish()


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
                raise NotFoundError(f"no job {job_id!r}: start one with POST /api/jobs/encode")
            return self._jobs[job_id]
