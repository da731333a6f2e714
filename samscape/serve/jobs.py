"""Work the server runs besides answering: background jobs (encoding a raster into a new feature
folder, downloading a model), and the progress of the live encoding a request on a live source runs.

An encode job runs `samscape encode --progress-json` in a child process on the cores the server's
decoder leaves (samscape/threads.py): in the server's own process its torch threads would take the
decoder's core, and every click would wait for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import NotFoundError, SamscapeError
from ..models import download as download_model
from ..models import forget_backends
from ..settings import EncodeSettings, write_settings_file
from ..threads import encode_job_threads
from .ids import new_id
from .wording import shortened

STOP_GRACE_S = 10.0  # a stopped encoding's time to write its manifest before it is killed
ERROR_PREFIX = "samscape: error: "


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
    """Background tasks by random id, one thread each (and one child process for an
    encoding); `stop_all` stops the encodings when the server stops."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._processes: dict[str, subprocess.Popen] = {}
        self._stopping = False

    def encode(self, raster: str, out: Path | str, settings: EncodeSettings) -> Job:
        """Encode `raster` into the feature folder `out` in a child process; the result: chips
        encoded, seconds."""
        def work(job: Job) -> None:
            summary = self._encode_process(job, raster, out, settings)
            job.result = {"encoded": summary["encoded"], "seconds": summary["seconds"]}

        return self._start("encode", {"raster": raster, "out": str(out)}, {"encoded": 0, "seconds": 0.0},
                           work)

    def _encode_process(self, job: Job, raster: str, out: Path | str, settings: EncodeSettings) -> dict:
        """Run `samscape encode` for `job`, its progress lines into `job.progress`; the summary
        it prints last, or SamscapeError with its one-line error."""
        with tempfile.TemporaryDirectory(prefix="samscape-job-") as tmp:
            command = [sys.executable, "-m", "samscape.cli.main", "encode", str(raster), str(out),
                       "--settings", str(write_settings_file(settings, Path(tmp) / "settings.json")),
                       "--progress-json", "--threads", str(encode_job_threads())]
            with open(Path(tmp) / "stderr.txt", "w+", encoding="utf-8", errors="replace") as stderr:
                with self._lock:
                    if self._stopping:
                        raise SamscapeError("the server is stopping; start the encoding again")
                    process = subprocess.Popen(
                        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                        text=True, encoding="utf-8", errors="replace",
                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                        creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
                    self._processes[job.id] = process
                try:
                    summary = _follow(process, job)
                    code = process.wait()
                finally:
                    with self._lock:
                        self._processes.pop(job.id, None)
                stderr.seek(0)
                errors = stderr.read().splitlines()
        if code == 0 and summary is not None:
            return summary
        said = [line[len(ERROR_PREFIX):] for line in errors if line.startswith(ERROR_PREFIX)]
        if said:
            raise SamscapeError(said[-1])
        if self._stopping:
            raise SamscapeError("stopped with the server; start the same encoding again to resume it")
        last = errors[-1] if errors else "no message"
        raise SamscapeError(f"encode stopped (exit code {code}): {last}")

    def stop_all(self) -> None:
        """Stop the running encodings as Ctrl+C would (SIGTERM: the chips written so far are kept
        and the same encoding resumes), killing any still running after STOP_GRACE_S."""
        with self._lock:
            self._stopping = True
            processes = list(self._processes.values())
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def download(self, model_id: str) -> Job:
        """Fetch `model_id`'s pinned weights into the model store."""
        def work(job: Job) -> None:
            download_model(model_id, progress=False)
            forget_backends()

        return self._start("download", {"model": model_id}, {}, work)

    def _start(self, kind: str, about: dict, result: dict, work: Callable[[Job], None]) -> Job:
        with self._lock:
            job = Job(new_id(self._jobs), kind, about, result)
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
                raise NotFoundError(f"no job '{shortened(job_id)}': start one with POST /api/jobs/encode or "
                                    "POST /api/models/ID/download")
            return self._jobs[job_id]


def _follow(process: subprocess.Popen, job: Job) -> dict | None:
    """Read `process`'s --progress-json lines to their end into `job.progress`; the last other
    JSON object (the summary), or None."""
    summary = None
    for line in process.stdout or ():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict):
            continue
        if set(message) == {"done", "total"}:
            job.progress(int(message["done"]), int(message["total"]))
        else:
            summary = message
    return summary
