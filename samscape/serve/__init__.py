"""`samscape serve`: the HTTP API and the browser app over the segmentation engine."""

from .api import create_app
from .roots import Roots
from .state import Sources

__all__ = ["Roots", "Sources", "create_app"]
