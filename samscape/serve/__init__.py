"""`samscape serve`: the HTTP API and the browser app over the segmentation engine."""

from .api import create_app
from .roots import Roots

__all__ = ["Roots", "create_app"]
