"""How a layer's files change on disk without losing anything: one lock per folder shared by every
process, temporary files named from a hash (never from the user's characters, which GDAL may cut),
a journal that makes a Shapefile's multi-file swap finishable after a crash, leftovers of killed
saves removed, and OS errors (full disk, read-only folder) turned into one-line messages.

A layer `name.ext` in folder F owns, besides its own files, exactly the files
`F/.samscape-<H>-<token>.<ext>` (temporaries) and `F/.samscape-<H>.journal` (a swap under way),
where H is a hash of `name.ext`. Nothing else in F is ever written or removed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputLayerError, reason

# Characters GDAL cuts a file name at (';') or drops (control characters): such names are refused.
_MANGLED = re.compile(r"[;\x00-\x1f\x7f]")
_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_FULL_WORDS = ("no space left", "disk is full", "disk full", "quota exceeded")


def check_name(text: str, what: str = "output path") -> None:
    """OutputLayerError if `text` holds a character GDAL would cut or drop."""
    bad = _MANGLED.search(text)
    if bad:
        char = repr(bad.group())
        raise OutputLayerError(f"the {what} {text!r} contains {char}, which GDAL cuts file and layer "
                               "names at; choose a name without it")


def _prefix(path: Path) -> str:
    digest = hashlib.sha256(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f".samscape-{digest}"


def temp_path(path: Path) -> Path:
    """A new temporary file for `path`, in its folder, named `.samscape-<H>-<token><suffix>`."""
    return path.with_name(f"{_prefix(path)}-{uuid.uuid4().hex[:12]}{path.suffix.lower()}")


def journal_path(path: Path) -> Path:
    return path.with_name(f"{_prefix(path)}.journal")


def _temporaries(path: Path) -> list[Path]:
    pattern = re.compile(re.escape(_prefix(path)) + r"-[0-9a-f]{12}\..+$", re.DOTALL)
    return [p for p in path.parent.iterdir() if pattern.match(p.name)]


def recover(path: Path) -> None:
    """Finish a swap a crash interrupted (its journal is there), then remove every temporary of
    `path` left by a killed save. Call with the folder lock held."""
    journal = journal_path(path)
    if journal.exists():
        try:
            entry = json.loads(journal.read_text())
            token, suffixes = entry["token"], entry["suffixes"]
            valid = re.fullmatch(r"[0-9a-f]{12}", token) and all(
                isinstance(s, str) and re.fullmatch(r"\.[A-Za-z0-9]+", s) for s in suffixes)
        except (ValueError, KeyError, TypeError):
            valid = False
        if valid:
            for suffix in suffixes:  # roll forward: the parts not yet renamed
                part = path.with_name(f"{_prefix(path)}-{token}{suffix}")
                if part.exists():
                    os.replace(part, path.with_suffix(suffix))
        journal.unlink()
    for leftover in _temporaries(path):
        leftover.unlink(missing_ok=True)


def _parts(temp: Path) -> list[str]:
    """The suffixes of the files of `temp` (several for a Shapefile)."""
    tails = [p.name[len(temp.stem):] for p in temp.parent.iterdir() if p.name.startswith(temp.stem)]
    return sorted(t for t in tails if re.fullmatch(r"\.[A-Za-z0-9]+", t))


def sync(temp: Path) -> None:
    """Flush every file of `temp` to disk; OSError (a full disk, an I/O error) if one cannot be."""
    for suffix in _parts(temp):
        fd = os.open(temp.with_suffix(suffix), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def swap_in(temp: Path, path: Path) -> None:
    """Move the files of `temp` (all its parts for a Shapefile) onto those of `path`.

    One file: one atomic rename. Several: a journal naming them is put in place atomically first,
    so a crash between the renames is finished by the next `recover`; without a journal the
    temporaries are only deleted, and the old layer stays whole."""
    parts = _parts(temp)
    if len(parts) == 1:
        os.replace(temp, path)
        return
    token = temp.stem.rsplit("-", 1)[1]
    for suffix in parts:
        _fsync(temp.with_suffix(suffix))
    journal = journal_path(path)
    pending = temp.with_suffix(".journal")
    pending.write_text(json.dumps({"token": token, "suffixes": parts}))
    _fsync(pending)
    os.replace(pending, journal)
    for suffix in parts:
        os.replace(temp.with_suffix(suffix), path.with_suffix(suffix))
    _fsync(path.parent)
    journal.unlink()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def check_writable(folder: Path) -> None:
    if not os.access(folder, os.W_OK):
        raise OutputLayerError(f"the output folder '{folder}' is read-only; choose a folder you can "
                               "write in")


@contextmanager
def write_errors(path: Path) -> Iterator[None]:
    """Turn a failed write of `path` (OS, GDAL, Arrow or SQLite error) into one OutputLayerError
    that says why and that the layer as it was is intact. GDAL does not pass the OS error on, so a
    full disk is also recognised by the free space left and a file size limit (ulimit -f) by its
    value; call while the failed temporary file still takes its space."""
    try:
        yield
    except OutputLayerError:
        raise
    except Exception as exc:
        if not _is_io_error(exc):
            raise
        code = getattr(exc, "errno", None)
        text = reason(exc)
        lower = text.lower()
        if code in _READ_ONLY or "read-only" in lower or "permission denied" in lower:
            raise OutputLayerError(f"the output folder '{path.parent}' is read-only ({text}); "
                                   "choose a folder you can write in") from None
        if code == errno.EFBIG or "file too large" in lower or _size_limited():
            raise OutputLayerError(f"the file size limit (ulimit -f) stopped writing '{path}' ({text}); "
                                   "the existing layer is intact: raise the limit and save again") from None
        if code in _FULL or any(w in lower for w in _FULL_WORDS) or _nearly_full(path):
            raise OutputLayerError(f"the disk is full: '{path}' could not be written ({text}); the "
                                   "existing layer is intact: free some space and save again") from None
        raise OutputLayerError(f"'{path}' could not be written ({text}); the existing layer is "
                               "intact") from None


def _size_limited() -> bool:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return False
    return resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY


def _nearly_full(path: Path) -> bool:
    """Less free space in the folder than the layer's size plus 1 MiB."""
    import shutil

    try:
        size = path.stat().st_size if path.exists() else 0
        return shutil.disk_usage(path.parent).free < size + 2**20
    except OSError:
        return False


def _is_io_error(exc: BaseException) -> bool:
    import sqlite3

    import pyogrio.errors

    return isinstance(exc, (OSError, sqlite3.Error, pyogrio.errors.DataSourceError,
                            pyogrio.errors.DataLayerError, pyogrio.errors.FeatureError,
                            pyogrio.errors.FieldError, pyogrio.errors.GeometryError))
