"""Opening any feature folder samscape reads: its own, or a Geo-SAM v2 folder (told apart by its
manifest's columns); a Geo-SAM v1 folder is refused in one line saying what to do."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import FeatureFolderError, PathNotFoundError, SettingsError
from .folder import FeatureFolder
from .geosam.folder import GeosamFolder
from .geosam.manifest import is_geosam_folder, is_geosam_v1_folder
from .manifest import MANIFEST
from .storage import is_url

V1_FIX = ("encode the raster again with 'samscape encode' (or with Geo-SAM v2, whose folders "
          "samscape opens)")


def folder_path(path: str | os.PathLike) -> str | os.PathLike:
    """`path`, or the folder of the `manifest.parquet` it names (Geo-SAM takes either)."""
    if not is_url(path) and Path(path).name == MANIFEST and Path(path).is_file():
        return Path(path).parent
    return path


def open_folder(path: str | os.PathLike, model: str | None = None) -> FeatureFolder:
    """A samscape feature folder, or a Geo-SAM v2 folder as one (a `GeosamFolder`). `model`: for a
    Geo-SAM folder, the model to read it with (see `GeosamFolder.open`); for samscape's, it must
    be the one recorded. A URL (`s3://bucket/prefix`) opens a samscape folder in an object store
    (Geo-SAM folders are read from local disk only)."""
    if is_url(path):
        return _checked(FeatureFolder.open(path), path, model)
    folder = Path(folder_path(path))
    if not folder.exists():
        raise PathNotFoundError(f"no such folder '{folder}'; give a feature folder made by 'samscape encode'")
    if is_geosam_folder(folder):
        return GeosamFolder.open(folder, model)
    if not (folder / MANIFEST).is_file():
        raise not_a_feature_folder(folder)
    return _checked(FeatureFolder.open(folder), path, model)


def _checked(opened: FeatureFolder, path: str | os.PathLike, model: str | None) -> FeatureFolder:
    recorded = opened.metadata.model.id
    if model is not None and model != recorded:
        raise SettingsError(f"'{path}' was encoded with model {recorded!r}, not {model!r}; "
                            f"drop --model or pass --model {recorded}")
    return opened


def not_a_feature_folder(folder: Path) -> FeatureFolderError:
    """The error for a folder with no manifest (see `geosam_hint`)."""
    return geosam_hint(folder) or FeatureFolderError(
        f"'{folder}' is not a feature folder (no {MANIFEST}); create one with 'samscape encode'")


def geosam_hint(folder: Path) -> FeatureFolderError | None:
    """For a folder with no manifest that Geo-SAM made, the error saying so: a Geo-SAM v1 folder,
    an early v2 one (a pickled manifest, which samscape never loads: unpickling runs code), or the
    plugin's output folder (a folder per layer inside) pointing to the folder within; else None."""
    if is_geosam_v1_folder(folder):
        return FeatureFolderError(f"'{folder}' is a Geo-SAM v1 feature folder (a GeoTIFF per chip "
                                  f"and a CSV index), which samscape cannot read; {V1_FIX}")
    if (folder / "manifest.pkl").is_file():
        return FeatureFolderError(f"'{folder}' is an early Geo-SAM v2 folder with a pickled manifest, "
                                  f"which samscape does not load (unpickling runs code); {V1_FIX}")
    inner = [p for p in _children(folder) if (p / MANIFEST).is_file()]
    if len(inner) == 1:
        return FeatureFolderError(f"'{folder}' is not a feature folder, but '{inner[0]}' in it is: "
                                  "give that folder")
    return None


def _children(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir()][:1000]
    except OSError:
        return []
