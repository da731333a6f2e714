"""Opening a source by path: a feature folder (pre-encoded) or a raster with a model (live)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from ..errors import FeatureFolderError, RasterReadError, SettingsError
from ..features import MANIFEST, is_feature_folder
from ..features.opening import folder_path, geosam_hint
from ..features.storage import is_url
from .base import DEFAULT_MEMORY_MB, FeatureSource
from .encoded import EncodedSource
from .live import LiveSource


def open_source(path: str | os.PathLike, model: str | None = None, *, device: str = "auto",
                memory_mb: float = DEFAULT_MEMORY_MB, **live) -> FeatureSource:
    """A feature folder (pre-encoded; `model` optional: for samscape's it must match, a Geo-SAM
    folder is read with it, e.g. an imported checkpoint's id) or a raster (live; `model`
    required, further keywords go to `LiveSource`: settings, cache_dir, disk_mb, progress, and
    any `EncodeSettings` field). A URL (`s3://bucket/prefix`) is a feature folder in an object
    store, unless its name ends in a raster suffix (`.tif`…): then it is a remote raster."""
    if not isinstance(path, (str, os.PathLike)):
        raise SettingsError(f"source {path!r} is not valid: give the path of a feature folder or "
                            "a raster")
    path = folder_path(path)
    if is_url(path) and not is_raster_url(str(path)):
        return EncodedSource.open(path, model, device, memory_mb)
    if Path(path).is_dir():
        if not is_feature_folder(path):
            hint = geosam_hint(Path(path))
            if hint is not None:
                raise hint
            raise FeatureFolderError(
                f"'{path}' is a folder but not a feature folder (no {MANIFEST}); give a folder made "
                "by 'samscape encode', or a raster"
            )
        return EncodedSource.open(path, model, device, memory_mb)
    if model is None:
        if not Path(path).exists() and "://" not in str(path) and not str(path).startswith("/vsi"):
            raise RasterReadError(f"no such file or folder: '{path}'; give a feature folder, or a "
                                  "raster with --model")
        unreadable = _not_a_raster(path)
        if unreadable:
            raise FeatureFolderError(f"'{path}' is neither a feature folder nor a raster GDAL reads "
                                     f"({unreadable}); give a folder made by 'samscape encode', or a raster")
        raise SettingsError(
            f"'{path}' is a raster: segmenting it live needs a model, e.g. --model "
            "sam-vit-base (see 'samscape models list'); or give a feature folder"
        )
    return LiveSource(str(path), model=model, device=device, memory_mb=memory_mb, **live)


def _not_a_raster(path: str | os.PathLike) -> str | None:
    """Why GDAL cannot open the local file `path` as a raster (e.g. a vector layer), or None
    (it can, or `path` is not a local file)."""
    if not Path(path).is_file():
        return None
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path):
            return None
    except RasterioIOError as exc:
        return str(exc).splitlines()[0].rstrip(".") if str(exc) else "not a raster"


RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2", ".img", ".png", ".jpg", ".nc")


def is_raster_url(url: str) -> bool:
    """Whether the URL names a raster file (by its suffix) rather than a feature folder."""
    return posixpath.splitext(url.split("?", 1)[0].rstrip("/"))[1].lower() in RASTER_SUFFIXES
