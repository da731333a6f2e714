"""Where a feature folder's files live: a local folder, or a prefix of an object store reached
through fsspec (`s3://bucket/prefix`, `gs://…`, `az://…`, `memory://…`).

Both stores offer the same few operations on names relative to the folder ('manifest.parquet',
'features/chip_000001.pt'): read, write whole, list, delete, exists, version. A local write goes to
a temporary beside the final name and is renamed into place; an object store's write is one PUT,
which the store applies whole or not at all. Either way a reader sees the old or the new file,
never part of one. Credentials come from each store's usual environment and configuration
(AWS_* variables, ~/.aws, instance roles…); none is ever written into the folder.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from pathlib import Path

from ..errors import FeatureFolderError, SettingsError, reason
from ..validate import is_url
from .temporaries import replace_with

__all__ = ["CLOUD_EXTRA", "FsspecStore", "LocalStore", "Store", "is_url", "location_of", "open_store",
           "shown"]

CLOUD_EXTRA = "pip install 'samscape[cloud]'"
_BACKENDS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
             "abfss": "adlfs"}


def location_of(location: str | os.PathLike) -> Path | str:
    """A folder location as samscape keeps it: a URL stays text (without a trailing '/'), a local
    path becomes a Path."""
    if is_url(location):
        return str(location).rstrip("/")
    return Path(location)


def shown(location: Path | str) -> str:
    """The location as messages and `info` show it."""
    return location if isinstance(location, str) else str(location)


class Store(ABC):
    """A feature folder's files by relative POSIX name ('features/chip_000001.pt')."""

    location: Path | str

    @abstractmethod
    def read(self, name: str) -> bytes:
        """The whole file; FileNotFoundError if there is none."""

    @abstractmethod
    def write(self, name: str, data: bytes | memoryview) -> None:
        """Write the whole file at once: a reader sees the old or the new content, never part."""

    @abstractmethod
    def names(self, folder: str = "") -> list[str]:
        """The names of the files directly in `folder` ('' for the top); [] if it has none."""

    @abstractmethod
    def children(self, folder: str = "") -> list[str]:
        """The names of the files and folders directly in `folder`; [] if it has none."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the file if it is there."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether the file is there."""

    @abstractmethod
    def sizes(self, folder: str = "") -> dict[str, int]:
        """The files directly in `folder` with their sizes in bytes."""

    @abstractmethod
    def version(self, name: str) -> str:
        """A text that changes whenever the file is written again (ETag, or size and mtime)."""

    def local_path(self, name: str) -> Path | None:
        """The file's path on this machine, or None in an object store."""
        return None

    def prune(self, folder: str) -> None:
        """Remove `folder` if it is empty (object stores have no empty folders: nothing to do)."""
        return None

    def check_bucket(self) -> None:
        """FeatureFolderError if the store's bucket does not exist (a local folder has none)."""
        return None


class LocalStore(Store):
    """A folder on this machine; writes go to a temporary and are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.location = self.root = root

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def write(self, name: str, data: bytes | memoryview) -> None:
        replace_with(self.root / name, data)

    def names(self, folder: str = "") -> list[str]:
        path = self.root / folder
        return [p.name for p in path.iterdir()] if path.is_dir() else []

    def children(self, folder: str = "") -> list[str]:
        path = self.root / folder
        return [p.name for p in path.iterdir()] if path.is_dir() else []

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def sizes(self, folder: str = "") -> dict[str, int]:
        path = self.root / folder
        if not path.is_dir():
            return {}
        return {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}

    def version(self, name: str) -> str:
        stat = (self.root / name).stat()
        return f"{stat.st_size}-{stat.st_mtime_ns}"

    def local_path(self, name: str) -> Path:
        return self.root / name

    def prune(self, folder: str) -> None:
        with contextlib.suppress(OSError):
            (self.root / folder).rmdir()


class FsspecStore(Store):
    """A prefix of an object store (or any fsspec file system) named by a URL. Errors other than
    a missing file become one-line FeatureFolderErrors naming the URL and the fix (credentials,
    bucket)."""

    def __init__(self, url: str) -> None:
        self.location = self.url = url.rstrip("/")
        self.scheme = scheme = url.split("://", 1)[0].lower()
        try:
            from fsspec.core import url_to_fs
        except ImportError:
            raise SettingsError(f"'{url}' needs fsspec, which is not installed; {CLOUD_EXTRA}") from None
        try:
            self.fs, self.root = url_to_fs(self.url)
        except ImportError as exc:
            package = _BACKENDS.get(scheme)
            if package is None:
                raise SettingsError(f"'{url}' needs a package that is not installed: "
                                    f"{reason(exc)}") from None
            fix = CLOUD_EXTRA if package == "s3fs" else f"pip install {package}"
            raise SettingsError(f"'{url}' needs {package}, which is not installed; {fix}") from None
        except ValueError as exc:
            raise SettingsError(f"'{url}' is not a URL samscape can read ({exc}); give a local folder "
                                "or an s3://, gs://, az:// URL") from None
        self.root = self.root.rstrip("/")

    @property
    def is_web(self) -> bool:
        """A folder on a web server: read-only."""
        return self.scheme in ("http", "https")

    def _key(self, name: str) -> str:
        return f"{self.root}/{name}" if name else self.root

    def read(self, name: str) -> bytes:
        with self._errors("read"):
            return self.fs.cat_file(self._key(name))

    def write(self, name: str, data: bytes | memoryview) -> None:
        with self._errors("write"):
            self.fs.pipe_file(self._key(name), bytes(data))

    def names(self, folder: str = "") -> list[str]:
        return list(self.sizes(folder))

    def children(self, folder: str = "") -> list[str]:
        return [_basename(item["name"]) for item in self._listing(folder)]

    def sizes(self, folder: str = "") -> dict[str, int]:
        return {_basename(item["name"]): int(item.get("size") or 0)
                for item in self._listing(folder) if item.get("type") == "file"}

    def _listing(self, folder: str) -> list[dict]:
        try:
            with self._errors("list"):
                self.fs.invalidate_cache(self._key(folder))
                return self.fs.ls(self._key(folder), detail=True)
        except FileNotFoundError:
            return []

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError), self._errors("delete"):
            self.fs.rm_file(self._key(name))

    def exists(self, name: str) -> bool:
        try:
            with self._errors("read"):
                self.fs.invalidate_cache(self._key(name))
                return self.fs.info(self._key(name)).get("type") == "file"
        except FileNotFoundError:
            return False

    def version(self, name: str) -> str:
        with self._errors("read"):
            info = self.fs.info(self._key(name))
        for key in ("ETag", "etag", "VersionId", "generation", "md5Hash"):
            if info.get(key):
                return str(info[key]).strip('"')
        return f"{info.get('size')}-{info.get('LastModified') or info.get('mtime') or info.get('created')}"

    def check_bucket(self) -> None:
        """FeatureFolderError if the URL's bucket (its first path part) does not exist; a web
        server (http, https) has none."""
        bucket = self.root.split("/", 1)[0]
        if not bucket or "/" not in self.root or self.is_web:
            return
        try:
            with self._errors("read"):
                self.fs.invalidate_cache(bucket)
                present = self.fs.exists(bucket)
        except FileNotFoundError:
            present = False
        if not present:
            raise FeatureFolderError(f"bucket '{bucket}' of '{self.url}' does not exist (or these "
                                     "credentials cannot see it); create it or give another URL")

    @contextlib.contextmanager
    def _errors(self, doing: str):
        try:
            yield
        except FileNotFoundError:
            raise
        except FeatureFolderError:
            raise
        except Exception as exc:
            raise FeatureFolderError(f"cannot {doing} '{self.url}': {reason(exc)}; check the URL and "
                                     "the store's credentials (e.g. AWS_ACCESS_KEY_ID and "
                                     "AWS_SECRET_ACCESS_KEY, or ~/.aws)") from None


def _basename(key: str) -> str:
    return key.rstrip("/").rsplit("/", 1)[-1]


def open_store(location: str | os.PathLike | Path) -> Store:
    """The store of a feature folder's location (a URL or a local path)."""
    if is_url(location):
        return FsspecStore(str(location))
    return LocalStore(Path(location))
