"""Prompts in map coordinates → objects: sources of chip features, the segmenter, sessions."""

from .promptfiles import read_prompts
from .prompts import BACKGROUND, FOREGROUND, Point, PromptSet, make_box
from .segmenter import DEFAULT_MAX_CHIPS, Segmenter, SegmentResult
from .session import SavedGroup, Session, new_ulid, save_results

__all__ = [
    "BACKGROUND", "DEFAULT_MAX_CHIPS", "FOREGROUND", "Point", "PromptSet", "SavedGroup",
    "SegmentResult", "Segmenter", "Session", "make_box", "new_ulid", "read_prompts", "save_results",
]
