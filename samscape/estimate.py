"""What an encoding will cost before it runs: chips, disk size, and time from a short measured run."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .encoder import EncodePlan
from .errors import SettingsError
from .features.chipfile import write_chip
from .features.manifest import chip_relpath
from .raster import RasterSource


@dataclass(frozen=True)
class ChipCost:
    """Measured on this machine: seconds to encode one chip (in batches of `batch_size`) and the
    bytes of its feature file."""

    seconds: float
    bytes: int
    batch_size: int


@dataclass(frozen=True)
class EncodeEstimate:
    """`chips` in the grid at `cost` each (chips all nodata are skipped, so these are upper bounds)."""

    chips: int
    cost: ChipCost

    @property
    def disk_bytes(self) -> int:
        return self.chips * self.cost.bytes

    @property
    def seconds(self) -> float:
        return self.chips * self.cost.seconds


def measure_chip_cost(source: RasterSource, plan: EncodePlan, batch_size: int) -> ChipCost:
    """Encode one batch of up to `batch_size` chips from the middle of the grid (after one chip
    to warm the model up) and write one feature file; SettingsError if every chip tried is
    nodata."""
    count = len(plan.chips)
    pixels = []
    for i in range(min(64, count)):  # by id, not by listing the grid: it may hold a million chips
        chip = plan.chips.chip((count // 2 + i) % count)
        data = source.read_chip(plan.read_spec, chip.window)
        if data is not None:
            pixels.append(torch.from_numpy(data))
        if len(pixels) == batch_size:
            break
    if not pixels:
        raise SettingsError("the chips tried are all nodata; choose an extent with data")
    backend = plan.backend
    features = backend.encode(pixels[:1], plan.mixed_precision)
    start = time.perf_counter()
    backend.encode(pixels, plan.mixed_precision)
    seconds = (time.perf_counter() - start) / len(pixels)
    meta = plan.metadata
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / chip_relpath(0)  # the archive inside names its file: same length
        path.parent.mkdir()
        write_chip(path, 0, meta.model.id, tuple(pixels[0].shape[:2]), features[0], meta.dtype)
        size = path.stat().st_size
    return ChipCost(seconds, size, len(pixels))
