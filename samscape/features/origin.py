"""Which raster a feature folder was encoded from: the one with the fingerprint it records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import PathNotAllowedError, PathNotFoundError, RasterReadError, SamscapeError
from ..geo import transform_bounds
from ..raster import RasterSource
from ..raster.remote import is_remote
from .geosam.folder import FINGERPRINT_PREFIX
from .metadata import FolderMetadata


def find_raster(folder: Path, metadata: FolderMetadata, given: str | None = None,
                resolve: Callable[[str | Path], Path] = Path,
                resolve_url: Callable[[str], str] | None = None) -> Path | str | None:
    """The raster `folder` (holding `metadata`) was encoded from: `given`, else a file of the
    recorded name beside the folder or in it, else the URL it records (a remote raster), as
    `resolve` maps a path and `resolve_url` a URL (None, the default: no URL is read; a SamscapeError from
    either rules a candidate out); it must have the recorded fingerprint. None if no candidate
    does; for a `given` raster, an error saying why it is not the one. A Geo-SAM folder records no
    fingerprint, only the raster's path: that path (when a local file) comes first, and a raster
    that covers the folder's grid is taken."""
    pre = metadata.preprocessing
    recorded = pre.source_fingerprint.removeprefix(FINGERPRINT_PREFIX)
    geosam = recorded != pre.source_fingerprint
    if given is None:
        candidates: list[str | Path] = [folder.parent / pre.source_name, folder / pre.source_name]
        if geosam and Path(recorded).is_absolute() and "://" not in recorded \
                and not recorded.startswith("/vsi"):
            candidates.insert(0, Path(recorded))
        if pre.source_url is not None:
            candidates.append(pre.source_url)
    elif is_remote(given):
        if resolve_url is None:
            raise PathNotAllowedError(f"'{given}' is a URL; a remote raster is not read here, "
                                      "give a local copy of the raster")
        candidates = [given]
    else:
        if not resolve(given).is_file():
            raise PathNotFoundError(f"no such file '{given}' (raster); give the raster the "
                                    f"features were encoded from ({pre.source_name}), or no raster")
        candidates = [given]
    for candidate in candidates:
        try:
            if isinstance(candidate, str) and is_remote(candidate):
                if resolve_url is None:
                    continue
                path: Path | str = resolve_url(candidate)
            else:
                path = resolve(candidate)
            with RasterSource(path) as raster:
                if (_covers(raster, metadata) if geosam
                        else raster.fingerprint() == pre.source_fingerprint):
                    return path
        except SamscapeError:
            continue
    if given is not None:
        raise RasterReadError(f"'{given}' is not the raster '{folder.name}' was encoded from "
                              f"({pre.source_name}, fingerprint {pre.source_fingerprint}); "
                              f"pick {pre.source_name} as it was when encoded")
    return None


def _covers(raster: RasterSource, metadata: FolderMetadata) -> bool:
    """Whether `raster` covers the folder's processing grid (how a Geo-SAM folder's raster is
    recognised: Geo-SAM records no fingerprint)."""
    grid = metadata.preprocessing.grid.to_grid()
    xmin, ymin, xmax, ymax = transform_bounds(raster.grid.bounds, raster.grid.crs, grid.crs)
    gx0, gy0, gx1, gy1 = grid.bounds
    tolerance = abs(grid.transform.a) / 2
    return (xmin <= gx0 + tolerance and ymin <= gy0 + tolerance and xmax >= gx1 - tolerance
            and ymax >= gy1 - tolerance)
