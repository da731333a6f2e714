"""Opening a feature folder: its manifest, its chips (loaded and checked on demand), a summary."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rasterio.crs import CRS

from ..errors import FeatureFolderError
from ..geo import crs_label
from .chipcache import ChipCache
from .chipfile import read_chip
from .manifest import FEATURES_DIR, MANIFEST, PART, PARTS_DIR, ChipRecord, ManifestRows, read_rows
from .metadata import FolderMetadata
from .storage import Store, location_of, open_store

if TYPE_CHECKING:
    import torch


class FeatureFolder:
    """A feature folder opened from its manifest; chips are read only when asked for.

    Nothing in the folder is trusted: feature paths must stay inside it, and every chip is checked
    against the manifest (id, model, feature names, shapes, dtype) when loaded. `path` is a local
    folder, or a URL (text) of an object store prefix, whose chips are fetched into the local
    `ChipCache` when first loaded.
    """

    def __init__(self, path: Path | str, metadata: FolderMetadata,
                 records: ManifestRows | list[ChipRecord]) -> None:
        self.path = path
        self.store: Store = open_store(path)
        self.cache: ChipCache | None = None
        self.metadata = metadata
        self.records: Mapping[int, ChipRecord] = \
            records if isinstance(records, ManifestRows) else {r.chip_id: r for r in records}

    @classmethod
    def open(cls, path: str | os.PathLike) -> FeatureFolder:
        folder = location_of(path)
        metadata, records = read_rows(folder)
        return cls(folder, metadata, records)

    @property
    def crs(self) -> CRS:
        return CRS.from_wkt(self.metadata.preprocessing.grid.crs)

    def __len__(self) -> int:
        return len(self.records)

    def chip_file(self, chip_id: int) -> Path:
        """The chip's feature file (in an object store: its local copy, fetched if the cache lacks
        it); FeatureFolderError if its path would leave the folder."""
        relative = self.records[chip_id].feature_path
        if isinstance(self.path, str):
            name = posixpath.normpath(relative)
            if posixpath.dirname(name) != FEATURES_DIR or "\\" in name:
                raise FeatureFolderError(
                    f"chip {chip_id} of '{self.path}' points outside the folder ({relative!r}); "
                    "the manifest was altered: encode the raster again"
                )
            if self.cache is None:
                self.cache = ChipCache.default()
            return self.cache.fetch(self.store, name)
        root = self.path.resolve()
        file = (root / relative).resolve()
        if not file.is_relative_to(root / FEATURES_DIR):
            raise FeatureFolderError(
                f"chip {chip_id} of '{self.path}' points outside the folder ({relative!r}); "
                "the manifest was altered: encode the raster again"
            )
        return file

    def load_chip(self, chip_id: int) -> dict[str, torch.Tensor]:
        """The chip's feature tensors, (C, H, W) each; FeatureFolderError if missing or corrupt."""
        if chip_id not in self.records:
            raise FeatureFolderError(f"chip {chip_id} is not in '{self.path}'")
        meta = self.metadata
        try:
            file = self.chip_file(chip_id)
            return read_chip(file, chip_id, meta.model.id, meta.dtype, meta.feature_shapes)
        except FileNotFoundError:
            raise FeatureFolderError(
                f"chip {chip_id} of '{self.path}' is missing ({self.records[chip_id].feature_path});"
                " run 'samscape encode' again with the same settings to restore it"
            ) from None
        except Exception as exc:
            if isinstance(exc, FeatureFolderError):
                raise
            reason = str(exc).splitlines()[0] if isinstance(exc, ValueError) else "unreadable"
            shown = f"{self.path}/{self.records[chip_id].feature_path}" if isinstance(self.path, str) \
                else file
            raise FeatureFolderError(
                f"chip {chip_id} of '{self.path}' is corrupt ({reason}); delete '{shown}' and run "
                "'samscape encode' again with the same settings to re-encode it"
            ) from None

    def model_mismatch(self, input_size: int, shapes: dict[str, tuple[int, int, int]]) -> str | None:
        """Why a model of `input_size` whose chips have feature `shapes` cannot take this folder's
        features (a one-line message naming the feature and both shapes), or None if it can."""
        meta = self.metadata
        if meta.model.input_size != input_size:
            return (f"'{self.path}' declares model input size {meta.model.input_size}, but model "
                    f"{meta.model.id!r} takes {input_size}; encode the raster again")
        for name, shape in sorted(shapes.items()):
            declared = meta.feature_shapes.get(name)
            if declared is None or tuple(declared) != tuple(shape):
                got = "none" if declared is None else str(tuple(declared))
                return (f"'{self.path}' holds features model {meta.model.id!r} cannot take: {name} "
                        f"{got}, expected {tuple(shape)}; encode the raster again")
        return None

    def problems(self) -> dict[int, str]:
        """Every chip that is missing or corrupt, with the reason: chip id → message."""
        found = {}
        for chip_id in sorted(self.records):
            try:
                self.load_chip(chip_id)
            except FeatureFolderError as exc:
                found[chip_id] = str(exc)
        return found

    def size_bytes(self) -> int:
        """The bytes of the manifest (and its parts) and the chip files."""
        top = self.store.sizes().get(MANIFEST, 0)
        parts = sum(size for name, size in self.store.sizes(PARTS_DIR).items() if PART.fullmatch(name))
        chips = sum(size for name, size in self.store.sizes(FEATURES_DIR).items()
                    if name.startswith("chip_") and name.endswith(".pt"))
        return top + parts + chips

    def summary(self) -> dict:
        """The documented, stable `samscape info --json` object."""
        meta = self.metadata
        pre = meta.preprocessing
        extent: list[float] | None = None
        if isinstance(self.records, ManifestRows):
            found = self.records.extent()
            extent = list(found) if found else None
        elif self.records:
            bounds = [r.bounds for r in self.records.values()]
            extent = [min(b[0] for b in bounds), min(b[1] for b in bounds),
                      max(b[2] for b in bounds), max(b[3] for b in bounds)]
        done = len(self.records) + len(meta.skipped_chip_ids)
        return {
            "path": self.path if isinstance(self.path, str) else str(self.path.resolve()),
            "format": meta.format,
            "format_version": meta.format_version,
            "chip_count": len(self.records),
            "grid_chip_count": meta.grid_chip_count,
            "nodata_chip_count": len(meta.skipped_chip_ids),
            "complete": done >= meta.grid_chip_count,
            "crs": crs_label(self.crs),
            "extent": extent,
            "model": meta.model.model_dump(),
            "preprocessing": {
                "source_name": pre.source_name,
                "bands": list(pre.bands),
                "value_range": list(pre.value_range),
                "resolution": list(pre.resolution),
                "chip_size": pre.chip_size,
                "stride": pre.stride,
                "extent": list(pre.extent),
            },
            "dtype": meta.dtype,
            "size_bytes": self.size_bytes(),
            "samscape_version": meta.samscape_version,
            "created": meta.created,
        }


def is_feature_folder(path: str | os.PathLike) -> bool:
    """Whether `path` (a folder or a URL) holds a manifest (a feature folder, complete or not)."""
    return open_store(location_of(path)).exists(MANIFEST)
