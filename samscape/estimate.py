"""What an encoding will cost before it runs: chips, disk size, and time from a short measured run."""

from __future__ import annotations

import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import SettingsError
from .features import FolderMetadata, chip_relpath
from .geo import Chip
from .planning import EncodePlan, start_encoding
from .raster import RasterSource
from .settings import EncodeSettings

if TYPE_CHECKING:
    import torch


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


def measure_chip_cost(source: RasterSource, plan: EncodePlan, settings: EncodeSettings) -> ChipCost:
    """Encode one batch of chips from the middle of the grid (after one chip to warm the model
    up), its size as `settings` say (auto: the device's, as `encode` chooses it; never compiled:
    compiling would cost more than the measured batch) and write one feature file;
    SettingsError if every chip tried is nodata."""
    from .chiploop import encode_chips  # torch: loaded when the Copilot first measures

    count = len(plan.chips)
    # by id, not by listing the grid: it may hold a million chips
    tried = [plan.chips.chip((count // 2 + i) % count) for i in range(min(64, count))]
    batch_size = start_encoding(plan, settings, len(tried), allow_compile=False).batch_size
    with tempfile.TemporaryDirectory() as tmp:
        sink = _FirstChipFile(Path(tmp), plan.metadata)
        with closing(encode_chips(source, plan, tried, batch_size, sink, warm_up=True)) as batches:
            for batch in batches:
                if batch.encoded:
                    return ChipCost(batch.seconds / len(batch.encoded), sink.bytes, len(batch.encoded))
    raise SettingsError("the chips tried are all nodata; choose an extent with data")


class _FirstChipFile:
    """A sink that writes the first chip it is given to a real feature file in `folder` and keeps
    its size in bytes; the rest it drops."""

    def __init__(self, folder: Path, metadata: FolderMetadata) -> None:
        self.path = folder / chip_relpath(0)  # the archive inside names its file: same length
        self.metadata = metadata
        self.bytes = 0

    def write(self, chip: Chip, pixels_shape: tuple[int, int], features: dict[str, torch.Tensor]
              ) -> None:
        from .features import write_chip

        if self.bytes:
            return
        self.path.parent.mkdir(exist_ok=True)
        write_chip(self.path, 0, self.metadata.model.id, pixels_shape, features, self.metadata.dtype)
        self.bytes = self.path.stat().st_size

    def skip(self, chip: Chip) -> None:
        pass
