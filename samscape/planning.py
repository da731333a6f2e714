"""What an encoding is before any chip is encoded: how pixels are read, the chip grid, the model,
and the metadata its feature folder records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from . import __version__
from .errors import SettingsError
from .features import FolderMetadata, GridRecord, ModelRecord, PreprocessingRecord
from .geo import ChipGrid, chip_count, crs_label, parse_extent
from .geo.chips import MAX_CHIPS, MAX_SIDE
from .models.catalogue import MIXED_PRECISION_FAMILIES
from .raster import RasterSource, ReadSpec, ValueRange
from .settings import EncodeSettings

if TYPE_CHECKING:
    from .models import SamBackend

__all__ = ["EncodePlan", "check_grid_size", "plan_chips", "plan_encoding"]


@dataclass(frozen=True)
class EncodePlan:
    """What an encoding of one raster with given settings is: how pixels are read, the chip grid,
    the model, and the metadata its feature folder records."""

    read_spec: ReadSpec
    chips: ChipGrid
    backend: SamBackend
    metadata: FolderMetadata
    mixed_precision: bool


def plan_encoding(source: RasterSource, settings: EncodeSettings,
                  backend: SamBackend | None = None) -> EncodePlan:
    """Plan the encoding of the open `source` (loads the model unless `backend` is given)."""
    if backend is None:
        from .models import load_backend

        backend = load_backend(settings.model, settings.device)
    read_spec, chips = plan_chips(source, settings, backend.spec.input_size)
    metadata = _metadata(source, read_spec, chips, backend, settings.dtype)
    mixed = settings.mixed_precision and backend.spec.family in MIXED_PRECISION_FAMILIES
    return EncodePlan(read_spec, chips, backend, metadata, mixed)


def plan_chips(source: RasterSource, settings: EncodeSettings, size: int) -> tuple[ReadSpec, ChipGrid]:
    """How the open `source` is read (bands, value range, grid) and cut into `size`² chips.

    The chip count is computed from the grid's size alone and checked against `MAX_CHIPS`
    before any pixel is read, so an absurd resolution or extent costs nothing.
    """
    extent = parse_extent(settings.extent) if settings.extent is not None else None
    grid = source.plan_grid(settings.crs, settings.resolution, extent)
    stride = size // 2 if settings.stride is None else settings.stride
    if not 0 < stride <= size:
        raise SettingsError(f"stride {stride} must be between 1 and the chip size {size}")
    check_grid_size(grid.width, grid.height, size, stride)
    bands = settings.bands or tuple(range(1, min(3, source.count) + 1))
    value_range = ValueRange(*settings.value_range) if settings.value_range else None
    read_spec = source.spec(bands, grid, value_range, settings.percentiles)
    return read_spec, ChipGrid(grid, size, stride)


def check_grid_size(width: int, height: int, size: int, stride: int) -> int:
    """The chip count of a `width` × `height` px grid; SettingsError past `MAX_CHIPS` chips
    or `MAX_SIDE` px a side, saying how to make it smaller."""
    count = chip_count(width, size, stride) * chip_count(height, size, stride)
    if count > MAX_CHIPS or max(width, height) > MAX_SIDE:
        raise SettingsError(
            f"the grid of {width:,} x {height:,} px would hold {count:,} chips, more than the "
            f"{MAX_CHIPS:,} samscape encodes in one folder; give a coarser --resolution, a "
            "smaller --extent or a larger --stride"
        )
    return count


def _metadata(source: RasterSource, spec: ReadSpec, chips: ChipGrid, backend: SamBackend,
              dtype: Literal["float16", "float32"]) -> FolderMetadata:
    grid = spec.grid
    xmin, ymin, xmax, ymax = grid.bounds
    pre = backend.preprocessing
    return FolderMetadata(
        model=ModelRecord(**backend.info.to_dict()),
        preprocessing=PreprocessingRecord(
            source_name=source.name,
            source_fingerprint=source.fingerprint(),
            bands=spec.bands,
            value_range=(spec.value_range.low, spec.value_range.high),
            crs=crs_label(grid.crs),
            resolution=grid.res,
            extent=(xmin, ymin, xmax, ymax),
            grid=GridRecord.from_grid(grid),
            chip_size=chips.size,
            stride=chips.stride,
            resize="square" if pre.family == "sam2" else "longest_side_pad",
            mean=pre.mean,
            std=pre.std,
        ),
        dtype=dtype,
        feature_shapes=backend.feature_shapes(),
        grid_chip_count=len(chips),
        samscape_version=__version__,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
