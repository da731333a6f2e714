"""SAM-family models: the catalogue, the weight store, preprocessing, and the backend.

The catalogue and the store need no torch; the names that do (`SamBackend`, `load_backend`, ...)
load it on first use, so commands that only list or manage models start fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes
from .cache import forget_backends
from .catalogue import CATALOGUE, DEFAULT_MODEL, ModelSpec
from .store import (
    describe,
    download,
    get_spec,
    import_checkpoint,
    import_folder,
    import_model,
    imported_ids,
    known_ids,
    model_path,
    remove,
    samscape_home,
    status,
)

if TYPE_CHECKING:
    from .backend import ModelInfo, SamBackend, autocast_dtype, pick_device
    from .decoder import PreparedChip
    from .loading import load_architecture, load_backend
    from .preprocess import Preprocessing

_LAZY = {"ModelInfo": "backend", "SamBackend": "backend", "autocast_dtype": "backend",
         "pick_device": "backend", "PreparedChip": "decoder", "load_backend": "loading",
         "load_architecture": "loading",
         "Preprocessing": "preprocess"}

__all__ = [
    "CATALOGUE",
    "DEFAULT_MODEL",
    "ModelInfo",
    "ModelSpec",
    "PreparedChip",
    "Preprocessing",
    "SamBackend",
    "autocast_dtype",
    "describe",
    "download",
    "forget_backends",
    "get_spec",
    "import_checkpoint",
    "import_folder",
    "import_model",
    "imported_ids",
    "known_ids",
    "load_architecture",
    "load_backend",
    "model_path",
    "pick_device",
    "remove",
    "samscape_home",
    "status",
]


__getattr__ = lazy_attributes(__name__, _LAZY)
