"""Where chip features come from: a feature folder (pre-encoded), or a raster (see `live`).

Both kinds share the chip grid, the model and a memory cache bounded in MB, so the segmenter
does not know which one it talks to.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from numbers import Real
from pathlib import Path

import torch
from rasterio.crs import CRS

from ..errors import FeatureFolderError, RasterReadError, SettingsError
from ..features import MANIFEST, FeatureFolder, FolderMetadata
from ..geo import ChipGrid, PixelGrid, crs_label, transform_bounds
from ..models import SamBackend, load_backend

DEFAULT_MEMORY_MB = 1024.0

Features = dict[str, torch.Tensor]


def check_memory_mb(value: object) -> None:
    """SettingsError unless `value` is a number of MB, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
        raise SettingsError(f"memory cache size (memory_mb) {value!r} is not valid: "
                            "give a number of MB, 0 or more")


class ChipCache:
    """Feature dicts by chip id, least recently used evicted past `max_mb`. Thread-safe."""

    def __init__(self, max_mb: float = DEFAULT_MEMORY_MB) -> None:
        check_memory_mb(max_mb)
        self.max_bytes = int(max_mb * 2**20)
        self._items: OrderedDict[int, Features] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, chip_id: int) -> Features | None:
        with self._lock:
            features = self._items.get(chip_id)
            if features is not None:
                self._items.move_to_end(chip_id)
            return features

    def put(self, chip_id: int, features: Features) -> None:
        size = sum(t.nbytes for t in features.values())
        with self._lock:
            if chip_id in self._items:
                return
            self._items[chip_id] = features
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= sum(t.nbytes for t in old.values())

    def __contains__(self, chip_id: int) -> bool:
        return chip_id in self._items

    @property
    def nbytes(self) -> int:
        return self._bytes


class FeatureSource:
    """Chip features on a chip grid, with the model that made them.

    Subclasses implement `has_chip` and `_load` (features of one chip, None if it has none).
    """

    mode: str = ""  # "pre-encoded" or "live"

    def __init__(self, chips: ChipGrid, backend: SamBackend, name: str,
                 memory_mb: float = DEFAULT_MEMORY_MB) -> None:
        self.chips = chips
        self.backend = backend
        self.name = name
        self.cache = ChipCache(memory_mb)

    @property
    def grid(self) -> PixelGrid:
        """The processing grid the chips are cut from."""
        return self.chips.grid

    @property
    def crs(self) -> CRS:
        return self.grid.crs

    @property
    def model_id(self) -> str:
        return self.backend.info.id

    def extent_in(self, crs: CRS) -> str:
        """The source's extent in `crs`, as text for messages."""
        bounds = transform_bounds(self.grid.bounds, self.crs, crs) if crs != self.crs else self.grid.bounds
        digits = 6 if crs.is_geographic else 2
        return f"{', '.join(f'{v:.{digits}f}' for v in bounds)} ({crs_label(crs)})"

    def has_chip(self, chip_id: int) -> bool:
        """Whether the chip has (or can get) features; False for chips missing or all nodata."""
        raise NotImplementedError

    def encoded_ids(self) -> set[int]:
        """The chips whose features exist now (a live source encodes more on demand)."""
        raise NotImplementedError

    def prepare(self, chip_ids: list[int]) -> None:
        """Make the features of these chips ready (live sources encode them here)."""

    def features(self, chip_id: int) -> Features | None:
        """The chip's (C, h, w) float32 feature tensors, from memory or loaded; None if it has none."""
        features = self.cache.get(chip_id)
        if features is None:
            features = self._load(chip_id)
            if features is None:
                return None
            features = {name: t.float() for name, t in features.items()}
            self.cache.put(chip_id, features)
        return features

    def _load(self, chip_id: int) -> Features | None:
        raise NotImplementedError

    def close(self) -> None:
        """Release background work; the source is not used afterwards."""

    def __enter__(self) -> FeatureSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EncodedSource(FeatureSource):
    """A feature folder: the manifest is read on opening, chips when a prompt needs them."""

    mode = "pre-encoded"

    def __init__(self, folder: FeatureFolder, backend: SamBackend,
                 memory_mb: float = DEFAULT_MEMORY_MB) -> None:
        pre = folder.metadata.preprocessing
        chips = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
        super().__init__(chips, backend, pre.source_name, memory_mb)
        self.folder = folder

    @classmethod
    def open(cls, path: str | os.PathLike, model: str | None = None, device: str = "auto",
             memory_mb: float = DEFAULT_MEMORY_MB) -> EncodedSource:
        """Open a feature folder with the model recorded in its manifest (`model`, if given, must
        be that one)."""
        folder = FeatureFolder.open(path)
        record = folder.metadata.model
        if model is not None and model != record.id:
            raise SettingsError(
                f"'{path}' was encoded with model {record.id!r}, not {model!r}; "
                f"drop --model or pass --model {record.id}"
            )
        backend = load_backend(record.id, device)
        if backend.info.weights_sha256 != record.weights_sha256:
            raise FeatureFolderError(
                f"the weights of model {record.id!r} on this machine are not the ones '{path}' was "
                f"encoded with (sha256 {record.weights_sha256[:12]}…); "
                f"run 'samscape models download {record.id}' or encode again"
            )
        mismatch = folder.model_mismatch(backend.spec.input_size, backend.feature_shapes())
        if mismatch is not None:
            raise FeatureFolderError(mismatch)
        return cls(folder, backend, memory_mb)

    @property
    def metadata(self) -> FolderMetadata:
        return self.folder.metadata

    def has_chip(self, chip_id: int) -> bool:
        return chip_id in self.folder.records

    def encoded_ids(self) -> set[int]:
        return set(self.folder.records)

    def _load(self, chip_id: int) -> Features | None:
        if chip_id not in self.folder.records:
            return None
        return self.folder.load_chip(chip_id)


def is_feature_folder(path: str | os.PathLike) -> bool:
    return (Path(path) / MANIFEST).is_file()


def open_source(path: str | os.PathLike, model: str | None = None, *, device: str = "auto",
                memory_mb: float = DEFAULT_MEMORY_MB, **live) -> FeatureSource:
    """A feature folder (pre-encoded; `model` optional, must match) or a raster (live; `model`
    required, further keywords go to `LiveSource`: settings, cache_dir, disk_mb, progress, and
    any `EncodeSettings` field)."""
    if not isinstance(path, (str, os.PathLike)):
        raise SettingsError(f"source {path!r} is not valid: give the path of a feature folder or "
                            "a raster")
    if Path(path).is_dir():
        if not is_feature_folder(path):
            raise FeatureFolderError(
                f"'{path}' is a folder but not a feature folder (no {MANIFEST}); give a folder made "
                "by 'samscape encode', or a raster"
            )
        return EncodedSource.open(path, model, device, memory_mb)
    if model is None:
        if not Path(path).exists() and "://" not in str(path) and not str(path).startswith("/vsi"):
            raise RasterReadError(f"no such file or folder: '{path}'; give a feature folder, or a "
                                  "raster with --model")
        raise SettingsError(
            f"'{path}' is a raster: segmenting it live needs a model, e.g. --model "
            "sam-vit-base (see 'samscape models list'); or give a feature folder"
        )
    from ..live import LiveSource

    return LiveSource(str(path), model=model, device=device, memory_mb=memory_mb, **live)
