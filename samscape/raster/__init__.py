"""Raster input: opening any GDAL source, band selection, value range, chip reads."""

from .scaling import ValueRange, expand_bands, percentile_range
from .source import FINGERPRINT_VERSION, RasterSource, ReadSpec

__all__ = [
    "FINGERPRINT_VERSION", "RasterSource", "ReadSpec", "ValueRange", "expand_bands", "percentile_range",
]
