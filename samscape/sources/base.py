"""What every source of chip features is (`FeatureSource`), and the memory cache they share.

A feature folder (`encoded`) and a raster encoded on demand (`live`) share the chip grid, the
model and a memory cache bounded in MB, so the segmenter does not know which one it talks to.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from numbers import Real

import torch
from rasterio.crs import CRS

from ..errors import SettingsError
from ..features import FolderMetadata
from ..features.geosam import LetterboxMapping
from ..geo import ChipGrid, PixelGrid, crs_label, transform_bounds
from ..models import PreparedChip, SamBackend

DEFAULT_MEMORY_MB = 1024.0

Features = dict[str, torch.Tensor]


def check_memory_mb(value: object) -> None:
    """SettingsError unless `value` is a number of MB, 0 or more."""
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value) >= 0:
        raise SettingsError(f"memory cache size (memory_mb) {value!r} is not valid: "
                            "give a number of MB, 0 or more")


class ChipCache:
    """Feature dicts by chip id, least recently used evicted past `max_mb`. Thread-safe.

    A chip's decoder state (`SamBackend.prepare`) can be attached to it: it is counted in the
    bound, evicted with the chip, and never kept for a chip that is not in the cache.
    """

    def __init__(self, max_mb: float = DEFAULT_MEMORY_MB) -> None:
        check_memory_mb(max_mb)
        self.max_bytes = int(max_mb * 2**20)
        self._items: OrderedDict[int, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, chip_id: int) -> Features | None:
        with self._lock:
            entry = self._items.get(chip_id)
            if entry is None:
                return None
            self._items.move_to_end(chip_id)
            return entry.features

    def put(self, chip_id: int, features: Features) -> None:
        size = sum(t.nbytes for t in features.values())
        with self._lock:
            if chip_id in self._items:
                return
            self._items[chip_id] = _Entry(features, size)
            self._bytes += size
            self._evict()

    def prepared(self, chip_id: int) -> PreparedChip | None:
        """The decoder state attached to the chip, or None; a hit is a use of the chip."""
        with self._lock:
            entry = self._items.get(chip_id)
            if entry is None or entry.prepared is None:
                return None
            self._items.move_to_end(chip_id)
            return entry.prepared

    def attach(self, chip_id: int, prepared: PreparedChip) -> None:
        """Keep `prepared` with the chip (once; nothing if the chip is not cached)."""
        with self._lock:
            entry = self._items.get(chip_id)
            if entry is None or entry.prepared is not None:
                return
            entry.prepared = prepared
            entry.nbytes += prepared.nbytes
            self._bytes += prepared.nbytes
            self._evict()

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._items:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes

    def __contains__(self, chip_id: int) -> bool:
        return chip_id in self._items

    @property
    def nbytes(self) -> int:
        return self._bytes


@dataclass(slots=True)
class _Entry:
    features: Features
    nbytes: int
    prepared: PreparedChip | None = None


class FeatureSource(ABC):
    """Chip features on a chip grid, with the model that made them.

    Subclasses say their `mode` and implement `metadata`, `has_chip`, `encoded_ids` and `load`;
    `features` adds the memory cache in front of `load`.
    """

    mode: str  # "pre-encoded" or "live"
    mapping: LetterboxMapping | None = None
    """How prompts and masks map between a chip and the model when it is not the backend's own
    (samscape's): Geo-SAM's features are decoded as Geo-SAM decodes them."""

    def __init__(self, chips: ChipGrid, backend: SamBackend, name: str,
                 memory_mb: float = DEFAULT_MEMORY_MB) -> None:
        self.chips = chips
        self.backend = backend
        self.name = name
        self.cache = ChipCache(memory_mb)

    @property
    @abstractmethod
    def metadata(self) -> FolderMetadata:
        """The feature-folder metadata of the encoding (a live source's is its cache's)."""

    @abstractmethod
    def has_chip(self, chip_id: int) -> bool:
        """Whether the chip has (or can get) features; False for chips missing or all nodata."""

    @abstractmethod
    def encoded_ids(self) -> set[int]:
        """The chips whose features exist now (a live source encodes more on demand)."""

    @abstractmethod
    def load(self, chip_id: int) -> Features | None:
        """The chip's stored feature tensors (C, h, w), read now; None if it has none."""

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

    def prepare(self, chip_ids: list[int]) -> None:
        """Make the features of these chips ready (live sources encode them here)."""
        return None

    def features(self, chip_id: int) -> Features | None:
        """The chip's (C, h, w) float32 feature tensors, from memory or loaded; None if it has none."""
        features = self.cache.get(chip_id)
        if features is None:
            features = self.load(chip_id)
            if features is None:
                return None
            features = {name: t.float() for name, t in features.items()}
            self.cache.put(chip_id, features)
        return features

    def decoder_input(self, chip_id: int) -> Features | PreparedChip | None:
        """What `SamBackend.decode_low_res` takes for the chip: its decoder state, prepared on the
        first prompt and kept with the chip in the memory cache; None if the chip has no features."""
        prepared = self.cache.prepared(chip_id)
        if prepared is not None:
            return prepared
        features = self.features(chip_id)
        if features is None:
            return None
        state = self.backend.prepare(features)
        if isinstance(state, PreparedChip):
            self.cache.attach(chip_id, state)
        return state

    def decode_low_res(self, features: Features | PreparedChip, chip_shape: tuple[int, int],
                       points: torch.Tensor | None, labels: torch.Tensor | None,
                       box: torch.Tensor | None, multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """`SamBackend.decode_low_res` for a chip of this source (prompts in chip pixel indices),
        through the source's `mapping` when it has one."""
        if self.mapping is None:
            return self.backend.decode_low_res(features, chip_shape, points, labels, box,
                                               multimask=multimask)
        return self.mapping.decode_low_res(self.backend, features, chip_shape, points, labels, box,
                                           multimask)

    def upscale(self, low_res: torch.Tensor, chip_shape: tuple[int, int]) -> torch.Tensor:
        """(M, m, m) decoder logits → (M, H, W) at the chip's size, as the features' maker does."""
        if self.mapping is None:
            return self.backend.upscale(low_res, chip_shape)
        return self.mapping.upscale(low_res, chip_shape)

    def close(self) -> None:
        """Release background work; the source is not used afterwards."""
        return None

    def __enter__(self) -> FeatureSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
