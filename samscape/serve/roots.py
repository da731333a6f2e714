"""The folders a server may read and write: every path a client names is checked against them.

URLs (`s3://bucket/prefix`: feature folders in object stores, remote rasters) are opened only
under a URL root given with --root, or any URL when the server was started with
--allow-url-sources: otherwise a client could make the server fetch from any store its
credentials reach."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import PathNotAllowedError, PathNotFoundError, SamscapeError, SettingsError
from ..features import is_feature_folder
from ..features.storage import is_url
from .wording import shortened

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img", ".png", ".jpg", ".nc")
LAYER_SUFFIXES = (".gpkg", ".shp", ".geojson", ".fgb", ".parquet")
NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows)
PATH_MAX = 4096  # bytes in a whole path (Linux)


@dataclass(frozen=True)
class Entry:
    """One item of a folder listing; kind: folder, features, raster, layer or file."""

    name: str
    path: str
    kind: str


@dataclass(frozen=True)
class Roots:
    """Allowed root folders (absolute, symlinks resolved); the first is where relative paths start.
    `urls`: URL prefixes under which URL sources may be opened; `any_url`: any URL may be."""

    paths: tuple[Path, ...]
    urls: tuple[str, ...] = ()
    any_url: bool = False

    @classmethod
    def of(cls, *folders: str | os.PathLike, any_url: bool = False) -> Roots:
        """Local folders (which must exist) and URL prefixes (`s3://bucket/prefix`), mixed."""
        urls = tuple(_url_root(str(f)) for f in folders if is_url(f))
        resolved = tuple(Path(f).expanduser().resolve() for f in folders if not is_url(f))
        missing = [str(p) for p in resolved if not p.is_dir()]
        if missing:
            raise PathNotFoundError(f"allowed root '{missing[0]}' is not a folder; give existing "
                                    "folders with --root")
        if not resolved:
            raise PathNotAllowedError("give at least one allowed root folder with --root")
        return cls(resolved, urls, any_url)

    def resolve_url(self, url: str) -> str:
        """`url` (without a trailing '/') if it lies under a URL root, or any URL is allowed;
        PathNotAllowedError otherwise, a '..' or '.' part anywhere included."""
        text = url.rstrip("/")
        if any(not c.isprintable() for c in text) or len(text) > PATH_MAX:
            raise SettingsError(f"URL '{shortened(text)}' holds control characters or is too long; give "
                                "another URL")
        parts = unquote(urlsplit(text).path).split("/")
        if any(part in ("..", ".") for part in parts):
            raise PathNotAllowedError(f"'{shortened(text)}' contains '..' or '.'; give a plain URL")
        if self.any_url or any(text == root or text.startswith(f"{root}/") for root in self.urls):
            return text
        allowed = ", ".join(self.urls) or "none"
        raise PathNotAllowedError(f"URL '{shortened(text)}' is outside the allowed URL roots ({allowed}); "
                                  "start the server with --root for that URL prefix, or with "
                                  "--allow-url-sources")

    def resolve(self, path: str | os.PathLike) -> Path:
        """`path` (absolute, or relative to the first root) with symlinks resolved, if it lies
        under a root; PathNotAllowedError otherwise, '..' anywhere included. A path no file
        system could hold (a NUL byte, a name over 255 bytes, the whole over PATH_MAX) or an unknown
        `~user` is a SettingsError: every route takes its paths here, so none of them sees one."""
        text = os.fsdecode(path)
        try:
            os.fsencode(text)
        except UnicodeEncodeError:
            raise SettingsError(f"path '{shortened(text)}' cannot be encoded as a file name; give "
                                "another path") from None
        if "\0" in text:
            raise SettingsError(f"path '{shortened(text)}' contains a NUL byte; give a path without one")
        if any(len(os.fsencode(name)) > NAME_MAX for name in Path(text).parts):
            raise SettingsError(f"a name in path '{shortened(text)}' is longer than {NAME_MAX} bytes, "
                                "which no file system holds; give a shorter name")
        try:
            given = Path(text).expanduser()
        except RuntimeError:  # ~user of an unknown user
            raise PathNotFoundError(f"no such user in '{shortened(text)}'; give a path inside "
                                    f"{self.describe()}") from None
        if ".." in given.parts:
            raise PathNotAllowedError(f"'{shortened(text)}' contains '..'; give a path inside "
                                      f"{self.describe()}")
        joined = given if given.is_absolute() else self.paths[0] / given
        try:
            if len(os.fsencode(joined)) >= PATH_MAX:
                raise OSError(errno.ENAMETOOLONG, "too long")
            resolved = joined.resolve()
        except (OSError, RuntimeError):  # too long, or a symlink loop (RuntimeError before 3.13)
            raise SettingsError(f"path '{shortened(text)}' cannot be resolved: it is longer than "
                                f"{PATH_MAX} bytes or holds a symlink loop; give another path") from None
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.paths):
            raise PathNotAllowedError(f"'{shortened(text)}' is outside the allowed roots {self.describe()}; "
                                      "start the server with --root for that folder")
        if len(os.fsencode(resolved)) >= PATH_MAX:
            raise SettingsError(f"path '{shortened(text)}' resolves to more than {PATH_MAX} bytes; "
                                "give a shorter path")
        return resolved

    def listing(self, path: str | os.PathLike | None = None) -> tuple[Path, list[Entry]]:
        """A folder under a root and its entries: folders first, then files, by name; hidden
        files and entries that resolve outside the roots are left out."""
        folder = self.resolve(path) if path is not None else self.paths[0]
        if not folder.exists():
            raise PathNotFoundError(f"no such folder '{shortened(str(path))}'; give a folder to list")
        if not folder.is_dir():
            raise PathNotFoundError(f"'{shortened(str(path))}' is a file, not a folder; give a folder "
                                    "to list")
        entries = []
        for child in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower())):
            if child.name.startswith("."):
                continue
            try:
                target = self.resolve(child)
            except SamscapeError:  # outside the roots, or a symlink loop
                continue
            entries.append(Entry(child.name, str(target), _kind(target)))
        return folder, entries

    def describe(self) -> str:
        return ", ".join([*(str(p) for p in self.paths), *self.urls])


def _url_root(url: str) -> str:
    root = url.rstrip("/")
    if any(part in ("..", ".", "") for part in root.split("://", 1)[1].split("/")):
        raise SettingsError(f"URL root '{shortened(url)}' is not a plain URL prefix; give e.g. "
                            "s3://bucket/prefix")
    return root


def _kind(path: Path) -> str:
    if path.is_dir():
        return "features" if is_feature_folder(path) else "folder"
    suffix = path.suffix.lower()
    return "raster" if suffix in RASTER_SUFFIXES else "layer" if suffix in LAYER_SUFFIXES else "file"
