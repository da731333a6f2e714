"""Prompts in map coordinates → objects: the segmenter, sessions, prompt files. The segmenter,
sessions and prompt files load on first use (torch, scipy, pyogrio)."""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes
from .placement import DEFAULT_MAX_CHIPS
from .prompts import BACKGROUND, FOREGROUND, Point, PromptSet, make_box

if TYPE_CHECKING:
    from .promptfiles import read_prompts
    from .segmenter import Segmenter, SegmentResult
    from .session import SavedGroup, Session, new_ulid, save_results

_LAZY = {"read_prompts": "promptfiles", "Segmenter": "segmenter", "SegmentResult": "segmenter",
         "SavedGroup": "session", "Session": "session", "new_ulid": "session", "save_results": "session"}

__all__ = [
    "BACKGROUND", "DEFAULT_MAX_CHIPS", "FOREGROUND", "Point", "PromptSet", "SavedGroup",
    "SegmentResult", "Segmenter", "Session", "make_box", "new_ulid", "read_prompts", "save_results",
]

__getattr__ = lazy_attributes(__name__, _LAZY)
