"""SAM-family models: the catalogue, the weight store, preprocessing, and the backend."""

from .backend import ModelInfo, SamBackend, autocast_dtype, pick_device
from .cache import forget_backends
from .catalogue import CATALOGUE, DEFAULT_MODEL, ModelSpec
from .preprocess import Preprocessing
from .store import (
    describe,
    download,
    get_spec,
    import_folder,
    imported_ids,
    known_ids,
    load_backend,
    model_path,
    remove,
    samscape_home,
    status,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_MODEL",
    "ModelInfo",
    "ModelSpec",
    "Preprocessing",
    "SamBackend",
    "autocast_dtype",
    "describe",
    "download",
    "forget_backends",
    "get_spec",
    "import_folder",
    "imported_ids",
    "known_ids",
    "load_backend",
    "model_path",
    "pick_device",
    "remove",
    "samscape_home",
    "status",
]
