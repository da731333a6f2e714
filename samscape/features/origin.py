"""Which raster a feature folder was encoded from: the one with the fingerprint it records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import PathNotFoundError, RasterReadError, SamscapeError
from ..raster import RasterSource
from .metadata import FolderMetadata


def find_raster(folder: Path, metadata: FolderMetadata, given: str | None = None,
                resolve: Callable[[str | Path], Path] = Path) -> Path | None:
    """The raster `folder` (holding `metadata`) was encoded from: `given`, else a file of the
    recorded name beside the folder or in it, as `resolve` maps it (a SamscapeError from it rules a
    candidate out); it must have the recorded fingerprint. None if no candidate does; for a `given`
    raster, an error saying why it is not the one."""
    pre = metadata.preprocessing
    if given is None:
        candidates: list[str | Path] = [folder.parent / pre.source_name, folder / pre.source_name]
    else:
        if not resolve(given).is_file():
            raise PathNotFoundError(f"no such file '{given}' (raster); give the raster the "
                                    f"features were encoded from ({pre.source_name}), or no raster")
        candidates = [given]
    for candidate in candidates:
        try:
            path = resolve(candidate)
            with RasterSource(path) as raster:
                if raster.fingerprint() == pre.source_fingerprint:
                    return path
        except SamscapeError:
            continue
    if given is not None:
        raise RasterReadError(f"'{given}' is not the raster '{folder.name}' was encoded from "
                              f"({pre.source_name}, fingerprint {pre.source_fingerprint}); "
                              f"pick {pre.source_name} as it was when encoded")
    return None
