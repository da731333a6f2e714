"""One lock per folder, shared by the threads of this process and by every other process."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class FolderLock:
    """Exclusive lock of one folder across threads and processes (flock on the folder itself,
    which no save replaces; on Windows a `.samscape.lock` file there)."""

    _threads: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with FolderLock._guard:
            self._thread = FolderLock._threads.setdefault(str(folder.resolve()), threading.Lock())

    @contextmanager
    def held(self, wait: bool = True) -> Iterator[None]:
        """Hold the lock for the block; without `wait`, raise `FolderBusy` at once if another
        thread or process holds it."""
        if not self._thread.acquire(blocking=wait):
            raise FolderBusy(self.folder)
        try:
            if sys.platform == "win32":  # pragma: no cover - not run on the Linux CI
                import msvcrt

                fd = os.open(self.folder / ".samscape.lock", os.O_RDWR | os.O_CREAT)
                try:
                    try:
                        msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
                    except OSError:
                        raise FolderBusy(self.folder) from None
                    yield
                finally:
                    os.close(fd)
                return
            import fcntl

            fd = os.open(self.folder, os.O_RDONLY)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise FolderBusy(self.folder) from None
                yield
            finally:
                os.close(fd)  # releases the flock
        finally:
            self._thread.release()


class FolderBusy(Exception):
    """Another thread or process holds the folder's lock (raised by `held(wait=False)`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"'{folder}' is locked by another thread or process")
        self.folder = folder
