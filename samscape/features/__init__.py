"""The feature folder format (version 1): manifest, chip files, the folder reader and its writer."""

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
from .opening import open_folder
from .origin import find_raster
from .writer import OVERWRITE_FIX, FolderState, check_target, one_writer, prepare_folder

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
    "open_folder",
    "one_writer",
    "prepare_folder",
    "read_chip",
    "read_manifest",
    "write_chip",
    "write_manifest",
]
