"""samscape: Segment Anything on large georeferenced rasters.

`samscape.encode(raster, out_dir, **settings)` writes a feature folder;
`samscape.FeatureFolder.open(path)` reads one. Heavy modules load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["EncodeSettings", "FeatureFolder", "__version__", "encode"]


def __getattr__(name: str):
    if name in ("encode", "EncodeSettings"):
        from . import encoder as module

        return getattr(module, name)
    if name == "FeatureFolder":
        from .features import FeatureFolder

        return FeatureFolder
    raise AttributeError(f"module 'samscape' has no attribute {name!r}")
