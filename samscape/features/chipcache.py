"""Chip files of feature folders in object stores, kept on local disk once fetched.

A chip is fetched on demand and stored under `$SAMSCAPE_HOME/chips/` by a key made of its URL and
its object version (ETag, or size and modification time), so a folder encoded again never serves
an old chip. The cache holds at most `$SAMSCAPE_CHIP_CACHE_MB` (default 2048) MB; the least
recently used files go first. Files are written to a temporary and renamed, so several processes
can share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

from .storage import Store
from .temporaries import replace_with

ENV = "SAMSCAPE_CHIP_CACHE_MB"
DEFAULT_MB = 2048.0


class ChipCache:
    """At most `max_bytes` of chip files under `folder`, least recently used removed first."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._bytes: int | None = None

    @classmethod
    def default(cls) -> ChipCache:
        from ..models.store import samscape_home

        try:
            megabytes = float(os.environ.get(ENV) or DEFAULT_MB)
        except ValueError:
            megabytes = DEFAULT_MB
        return cls(samscape_home() / "chips", int(max(megabytes, 0.0) * 2**20))

    def fetch(self, store: Store, name: str) -> Path:
        """The local copy of `store`'s file `name`, fetched if the cache lacks this version of it;
        FileNotFoundError if the store has no such file."""
        key = hashlib.sha256(f"{store.location}/{name}\n{store.version(name)}".encode()).hexdigest()
        path = self.folder / key[:2] / f"{key}.pt"
        with contextlib.suppress(OSError):
            os.utime(path)
            return path
        data = store.read(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_with(path, data)
        self._added(len(data), path)
        return path

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for sub in self.folder.glob("??"):
            for file in sub.glob("*.pt"):
                with contextlib.suppress(OSError):
                    stat = file.stat()
                    found.append((stat.st_mtime, stat.st_size, file))
        return found

    def _added(self, size: int, keep: Path) -> None:
        """Count `size` new bytes; over the bound, remove the least recently used files (all but
        `keep`, just fetched) down to nine tenths of it."""
        with self._lock:
            if self._bytes is None:
                self._bytes = sum(size for _, size, _ in self._files())
            else:
                self._bytes += size
            if self._bytes <= self.max_bytes:
                return
            files = sorted(self._files())
            self._bytes = sum(size for _, size, _ in files)
            for _, size, file in files:
                if self._bytes <= self.max_bytes * 0.9:
                    break
                if file == keep:
                    continue
                with contextlib.suppress(OSError):
                    file.unlink()
                    self._bytes -= size
