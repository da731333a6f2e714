"""`samscape serve`: the HTTP API and the browser app over the segmentation engine."""

from .api import create_app
from .roots import Roots
from .routers.server import API_VERSION
from .state import Sources

__all__ = ["API_VERSION", "Roots", "Sources", "create_app"]
