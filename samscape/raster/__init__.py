"""Raster input: opening any GDAL source, band selection, value range, chip reads."""

from .scaling import ValueRange, expand_bands, percentile_range
from .source import RasterSource, ReadSpec

__all__ = ["RasterSource", "ReadSpec", "ValueRange", "expand_bands", "percentile_range"]
