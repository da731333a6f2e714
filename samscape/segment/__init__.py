"""Prompts in map coordinates → objects: sources of chip features, the segmenter, sessions."""

from .batch import read_prompts
from .prompts import BACKGROUND, FOREGROUND, Point, PromptSet, make_box
from .segmenter import DEFAULT_MAX_CHIPS, Segmenter, SegmentResult
from .session import SavedGroup, Session, new_ulid, save_results
from .sources import EncodedSource, FeatureSource, open_source

__all__ = [
    "BACKGROUND", "DEFAULT_MAX_CHIPS", "FOREGROUND", "EncodedSource", "FeatureSource", "Point",
    "PromptSet", "SavedGroup", "SegmentResult", "Segmenter", "Session", "make_box", "new_ulid",
    "open_source", "read_prompts", "save_results",
]
