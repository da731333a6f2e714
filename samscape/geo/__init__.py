"""Pure geometry: pixel grids, chip grids, CRS and bounds. Knows nothing of torch or files."""

from .chips import Chip, ChipGrid, chip_count, chip_offsets
from .crs import (
    Bounds,
    Extent,
    crs_label,
    crs_transformer,
    norm_crs,
    parse_extent,
    transform_bounds,
    utm_crs_for,
)
from .grid import PixelGrid, Window

__all__ = [
    "Bounds",
    "Chip",
    "ChipGrid",
    "Extent",
    "PixelGrid",
    "Window",
    "chip_count",
    "chip_offsets",
    "crs_label",
    "crs_transformer",
    "norm_crs",
    "parse_extent",
    "transform_bounds",
    "utm_crs_for",
]
