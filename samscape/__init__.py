"""samscape: Segment Anything on large georeferenced rasters.

`samscape.encode(raster, out_dir, **settings)` writes a feature folder;
`samscape.open_source(folder_or_raster, model=None)` opens one (or a raster, live) for a
`Segmenter` and a `Session`; `samscape.convert(src, dst, to="samscape"|"geosam")` converts
between samscape's and Geo-SAM v2's feature folders. Heavy modules load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "encode": "encoder", "EncodeSettings": "settings",
    "FeatureFolder": "features", "convert": "features.convert",
    "EncodedSource": "sources", "LiveSource": "sources", "open_source": "sources",
    "PromptSet": "segment", "Segmenter": "segment", "SegmentResult": "segment", "Session": "segment",
    "read_prompts": "segment",
    "OutputLayer": "vector", "VectorOptions": "vector",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'samscape' has no attribute {name!r}")
