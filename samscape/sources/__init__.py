"""Sources of chip features: a feature folder (pre-encoded) or a raster encoded on demand (live)."""

from .base import DEFAULT_MEMORY_MB, ChipCache, Features, FeatureSource
from .encoded import EncodedSource
from .live import LiveSource
from .opening import open_source

__all__ = ["DEFAULT_MEMORY_MB", "ChipCache", "EncodedSource", "FeatureSource", "Features", "LiveSource",
           "open_source"]
