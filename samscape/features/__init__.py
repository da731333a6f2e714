"""The feature folder format (version 1): manifest, chip files, and the folder reader."""

from .chipfile import read_chip, write_chip
from .folder import FeatureFolder, is_feature_folder
from .manifest import (
    FEATURES_DIR,
    MANIFEST,
    ChipRecord,
    chip_relpath,
    read_manifest,
    write_manifest,
)
from .metadata import (
    FORMAT_VERSION,
    FolderMetadata,
    GridRecord,
    ModelRecord,
    PreprocessingRecord,
)
from .origin import find_raster

__all__ = [
    "FEATURES_DIR",
    "FORMAT_VERSION",
    "MANIFEST",
    "ChipRecord",
    "FeatureFolder",
    "FolderMetadata",
    "GridRecord",
    "ModelRecord",
    "PreprocessingRecord",
    "chip_relpath",
    "find_raster",
    "is_feature_folder",
    "read_chip",
    "read_manifest",
    "write_chip",
    "write_manifest",
]
