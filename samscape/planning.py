"""What an encoding is before any chip is encoded: how pixels are read, the chip grid, the model,
and the metadata its feature folder records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from . import __version__
from .errors import SettingsError
from .features import FolderMetadata, GridRecord, ModelRecord, PreprocessingRecord
from .geo import ChipGrid, PixelGrid, chip_count, crs_label, parse_extent
from .geo.chips import MAX_CHIPS, MAX_SIDE
from .geo.crs import plain_number
from .models.catalogue import MIXED_PRECISION_FAMILIES
from .raster import RasterSource, ReadSpec, ValueRange
from .settings import EncodeSettings

if TYPE_CHECKING:
    from .models import SamBackend
    from .models.compiling import CompiledEmbedding

__all__ = ["CHOOSING_BATCH_SIZE", "COMPILING", "EncodePlan", "Start", "check_grid_size", "plan_chips",
           "plan_encoding", "start_encoding"]

CHOOSING_BATCH_SIZE = "choosing batch size"
COMPILING = "compiling"
"""The start-up steps a progress display shows (`start_encoding`'s `step` names)."""
MIN_SIDE = 16  # px a side a --resolution may shrink a raster to


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


@dataclass(frozen=True)
class Start:
    """How an encoding runs on this machine: chips a batch; the compiled image encoder, if any
    (`compiler.failed` says if it fell back to eager); `compiling`: the first batch compiles it,
    so it takes the start-up cost."""

    batch_size: int
    compiler: CompiledEmbedding | None = None
    compiling: bool = False

    @property
    def compiled(self) -> bool:
        return self.compiler is not None and not self.compiler.failed


def start_encoding(plan: EncodePlan, settings: EncodeSettings, chips: int,
                   step: Callable[[str], None] | None = None, *, allow_compile: bool = True) -> Start:
    """Ready `plan`'s backend for `chips` chips: the batch size (`settings.batch_size`, or for
    "auto" the device's, `models.tuning`; at most `chips`, at least 1) and, if `settings.compile`
    and `allow_compile`, the image encoder compiled for it. `step(name)` is called before a step
    that takes a while: `CHOOSING_BATCH_SIZE` before a probe, `COMPILING` when the first batch
    will compile. With no chips to encode nothing is probed or compiled."""
    from .models.tuning import batch_size_for

    if chips <= 0:
        return Start(settings.batch_size if isinstance(settings.batch_size, int) else 1)
    size = batch_size_for(plan.backend, settings.batch_size, plan.mixed_precision,
                          None if step is None else lambda: step(CHOOSING_BATCH_SIZE))
    size = max(1, min(size, chips))
    if not (settings.compile and allow_compile):
        return Start(size)
    compiler = plan.backend.compile(size)
    if not compiler.ready and step is not None:
        step(COMPILING)
    return Start(size, compiler, compiling=not compiler.ready)


def plan_chips(source: RasterSource, settings: EncodeSettings, size: int) -> tuple[ReadSpec, ChipGrid]:
    """How the open `source` is read (bands, value range, grid) and cut into `size`² chips.

    The chip count is computed from the grid's size alone and checked against `MAX_CHIPS`
    before any pixel is read, so an absurd resolution or extent costs nothing.
    """
    extent = parse_extent(settings.extent) if settings.extent is not None else None
    grid = source.plan_grid(settings.crs, settings.resolution, extent)
    if settings.resolution is not None:
        _check_not_too_coarse(grid, source.plan_grid(settings.crs, None, extent), settings.resolution)
    stride = size // 2 if settings.stride is None else settings.stride
    if not 0 < stride <= size:
        raise SettingsError(f"stride {stride} must be between 1 and the chip size {size}")
    check_grid_size(grid.width, grid.height, size, stride)
    bands = settings.bands or tuple(range(1, min(3, source.count) + 1))
    value_range = ValueRange(*settings.value_range) if settings.value_range else None
    read_spec = source.spec(bands, grid, value_range, settings.percentiles)
    return read_spec, ChipGrid(grid, size, stride)


def _check_not_too_coarse(grid: PixelGrid, native: PixelGrid, resolution: float) -> None:
    """SettingsError if `resolution` shrinks the raster (`native`: at its own resolution) below
    `MIN_SIDE` px a side: a few pixels hold nothing a model can segment (averaged past the edge,
    they even read as nodata)."""
    if min(grid.width, grid.height) < min(MIN_SIDE, native.width, native.height):
        raise SettingsError(
            f"at a resolution of {plain_number(resolution)} the raster would be {grid.width} x "
            f"{grid.height} px (at its own, {native.width} x {native.height} px), too few to segment "
            f"anything; give a finer --resolution")


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
            source_url=source.url,
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
