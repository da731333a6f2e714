"""Geo-SAM v2 feature folders: read as samscape folders, and written from them (`convert`)."""

from .checkpoints import GEOSAM_TO_SAMSCAPE, checkpoint_for_model, model_for_checkpoint
from .folder import LETTERBOX, GeosamFolder
from .manifest import COLUMNS, is_geosam_folder, is_geosam_v1_folder
from .mapping import LetterboxMapping

__all__ = ["COLUMNS", "GEOSAM_TO_SAMSCAPE", "LETTERBOX", "GeosamFolder", "LetterboxMapping",
           "checkpoint_for_model", "is_geosam_folder", "is_geosam_v1_folder", "model_for_checkpoint"]
