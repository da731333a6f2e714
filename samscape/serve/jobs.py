"""Work the server runs besides answering: background jobs (encoding a raster into a new feature
folder, downloading a model), and the progress of the live encoding a request on a live source runs."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import NotFoundError, SamscapeError
from ..models import download as download_model
from ..models import forget_backends
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
    """One background task (encoding a raster, downloading a model): its steps done of total, what
    it works on (`about`), its result, and how it ended."""

    def __init__(self, job_id: str, kind: str, about: dict, result: dict) -> None:
        self.id = job_id
        self.kind = kind
        self.about = about
        self.result = result
        self.state = "running"
        self.done = self.total = 0
        self.error: str | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "state": self.state, "done": self.done,
                "total": self.total, **self.about, "error": self.error, **self.result}


class Jobs:
    """Background tasks by id ('1', '2', ...), one thread each."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def encode(self, raster: str, out: Path, settings: EncodeSettings) -> Job:
        """Encode `raster` into the feature folder `out`; the result: chips encoded, seconds."""
        def work(job: Job) -> None:
            from ..encoder import encode  # torch: loaded with the first job

            result = encode(raster, out, settings, progress=job.progress)
            job.result = {"encoded": result.encoded, "seconds": round(result.seconds, 3)}

        return self._start("encode", {"raster": raster, "out": str(out)}, {"encoded": 0, "seconds": 0.0},
                           work)

    def download(self, model_id: str) -> Job:
        """Fetch `model_id`'s pinned weights into the model store."""
        def work(job: Job) -> None:
            download_model(model_id, progress=False)
            forget_backends()

        return self._start("download", {"model": model_id}, {}, work)

    def _start(self, kind: str, about: dict, result: dict, work: Callable[[Job], None]) -> Job:
        with self._lock:
            job = Job(str(next(self._ids)), kind, about, result)
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), daemon=True,
                         name=f"samscape-{kind}-{job.id}").start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], None]) -> None:
        try:
            work(job)
            job.state = "done"
        except SamscapeError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # reported to the page, which has no other way to learn of it
            job.error, job.state = f"{job.kind} stopped: {type(exc).__name__}: {exc}", "failed"

    def get(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise NotFoundError(f"no job {job_id!r}: start one with POST /api/jobs/encode or "
                                    "POST /api/models/ID/download")
            return self._jobs[job_id]
