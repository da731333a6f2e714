"""The feature folder format (version 1): manifest, chip files, the folder reader and its writer.
Chip files and the writer load on first use (torch): opening and describing a folder needs none."""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes
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

if TYPE_CHECKING:
    from .chipfile import read_chip, write_chip
    from .origin import find_raster
    from .writer import OVERWRITE_FIX, FolderState, check_target, prepare_folder

_LAZY = {"read_chip": "chipfile", "write_chip": "chipfile", "find_raster": "origin",
         "OVERWRITE_FIX": "writer", "FolderState": "writer", "check_target": "writer",
         "prepare_folder": "writer"}

__all__ = [
    "FEATURES_DIR",
    "FORMAT_VERSION",
    "MANIFEST",
    "OVERWRITE_FIX",
    "ChipRecord",
    "FeatureFolder",
    "FolderMetadata",
    "FolderState",
    "GridRecord",
    "ModelRecord",
    "PreprocessingRecord",
    "check_target",
    "chip_relpath",
    "find_raster",
    "is_feature_folder",
    "prepare_folder",
    "read_chip",
    "read_manifest",
    "write_manifest",
    "write_chip",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
