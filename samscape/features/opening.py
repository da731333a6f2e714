"""Opening any feature folder samscape reads: its own, or a Geo-SAM v2 folder (told apart by its
manifest's columns); a Geo-SAM v1 folder is refused in one line saying what to do."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FeatureFolderError
from .folder import FeatureFolder
from .geosam.folder import GeosamFolder
from .geosam.manifest import is_geosam_folder, is_geosam_v1_folder
from .manifest import MANIFEST

V1_FIX = ("encode the raster again with 'samscape encode' (or with Geo-SAM v2, whose folders "
          "samscape opens)")


def open_folder(path: str | os.PathLike) -> FeatureFolder:
    """A samscape feature folder, or a Geo-SAM v2 folder as one (a `GeosamFolder`)."""
    folder = Path(path)
    if is_geosam_folder(folder):
        return GeosamFolder.open(folder)
    if not (folder / MANIFEST).is_file():
        raise not_a_feature_folder(folder)
    return FeatureFolder.open(folder)


def not_a_feature_folder(folder: Path) -> FeatureFolderError:
    """The error for a folder with no manifest: a Geo-SAM v1 folder is named as one."""
    if is_geosam_v1_folder(folder):
        return FeatureFolderError(f"'{folder}' is a Geo-SAM v1 feature folder (a GeoTIFF per chip "
                                  f"and a CSV index), which samscape cannot read; {V1_FIX}")
    return FeatureFolderError(f"'{folder}' is not a feature folder (no {MANIFEST}); create one with "
                              "'samscape encode'")
