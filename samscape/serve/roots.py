"""The folders a server may read and write: every path a client names is checked against them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import PathNotAllowedError, PathNotFoundError
from ..segment.sources import is_feature_folder

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img", ".png", ".jpg", ".nc")
LAYER_SUFFIXES = (".gpkg", ".shp", ".geojson", ".fgb", ".parquet")


@dataclass(frozen=True)
class Entry:
    """One item of a folder listing; kind: folder, features, raster, layer or file."""

    name: str
    path: str
    kind: str


@dataclass(frozen=True)
class Roots:
    """Allowed root folders (absolute, symlinks resolved); the first is where relative paths start."""

    paths: tuple[Path, ...]

    @classmethod
    def of(cls, *folders: str | os.PathLike) -> Roots:
        resolved = tuple(Path(f).expanduser().resolve() for f in folders)
        missing = [str(p) for p in resolved if not p.is_dir()]
        if missing:
            raise PathNotFoundError(f"allowed root '{missing[0]}' is not a folder; give existing "
                                    "folders with --root")
        if not resolved:
            raise PathNotAllowedError("give at least one allowed root folder with --root")
        return cls(resolved)

    def resolve(self, path: str | os.PathLike) -> Path:
        """`path` (absolute, or relative to the first root) with symlinks resolved, if it lies
        under a root; PathNotAllowedError otherwise, '..' anywhere included."""
        given = Path(path).expanduser()
        if ".." in given.parts:
            raise PathNotAllowedError(f"'{path}' contains '..'; give a path inside {self.describe()}")
        resolved = (given if given.is_absolute() else self.paths[0] / given).resolve()
        if not any(resolved == root or resolved.is_relative_to(root) for root in self.paths):
            raise PathNotAllowedError(f"'{path}' is outside the allowed roots {self.describe()}; "
                                      "start the server with --root for that folder")
        return resolved

    def listing(self, path: str | os.PathLike | None = None) -> tuple[Path, list[Entry]]:
        """A folder under a root and its entries: folders first, then files, by name; hidden
        files and entries that resolve outside the roots are left out."""
        folder = self.resolve(path) if path is not None else self.paths[0]
        if not folder.is_dir():
            raise PathNotFoundError(f"'{path}' is not a folder; give a folder to list")
        entries = []
        for child in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name.lower())):
            if child.name.startswith("."):
                continue
            try:
                target = self.resolve(child)
            except PathNotAllowedError:
                continue
            entries.append(Entry(child.name, str(target), _kind(target)))
        return folder, entries

    def describe(self) -> str:
        return ", ".join(str(p) for p in self.paths)


def _kind(path: Path) -> str:
    if path.is_dir():
        return "features" if is_feature_folder(path) else "folder"
    suffix = path.suffix.lower()
    return "raster" if suffix in RASTER_SUFFIXES else "layer" if suffix in LAYER_SUFFIXES else "file"
