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
    def held(self) -> Iterator[None]:
        with self._thread:
            if sys.platform == "win32":  # pragma: no cover - not run on the Linux CI
                import msvcrt

                fd = os.open(self.folder / ".samscape.lock", os.O_RDWR | os.O_CREAT)
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    yield
                finally:
                    os.close(fd)
                return
            import fcntl

            fd = os.open(self.folder, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock
