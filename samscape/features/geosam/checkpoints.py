"""Geo-SAM's checkpoint file names and samscape's catalogue ids: the one map between them.

Geo-SAM (its `geosam` library and QGIS plugin v2) names a model only by its checkpoint's file name
(`checkpoint_path` in the manifest and in every chip file), from its registry
(`geosam/runtime.py::MODEL_DEFINITIONS`); those files are Ultralytics' packaging of Meta's weights.
A file named `<samscape id>.pt` is read as that samscape model (how samscape names the checkpoint
of a model Geo-SAM does not know when asked to, `convert --checkpoint`).
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from ...models import CATALOGUE, get_spec

GEOSAM_TO_SAMSCAPE: dict[str, str] = {
    "sam_b.pt": "sam-vit-base",
    "sam_l.pt": "sam-vit-large",
    "sam_h.pt": "sam-vit-huge",  # not in Geo-SAM's registry, but Ultralytics' name for Meta's ViT-H
    "sam2.1_t.pt": "sam2.1-hiera-tiny",
    "sam2.1_s.pt": "sam2.1-hiera-small",
    "sam2.1_b.pt": "sam2.1-hiera-base-plus",
    "sam2.1_l.pt": "sam2.1-hiera-large",
}
"""Geo-SAM checkpoint file name → samscape catalogue id (same weights, Meta's)."""

GEOSAM_REGISTRY = ("sam_b.pt", "sam_l.pt", "sam2_t.pt", "sam2_s.pt", "sam2_b.pt", "sam2_l.pt",
                   "sam2.1_t.pt", "sam2.1_s.pt", "sam2.1_b.pt", "sam2.1_l.pt", "sam3.pt")
"""The checkpoints Geo-SAM's plugin lists (and so can load a folder of)."""

UNSUPPORTED = {
    "sam2_t.pt": "SAM 2.0 Hiera-T", "sam2_s.pt": "SAM 2.0 Hiera-S", "sam2_b.pt": "SAM 2.0 Hiera-B+",
    "sam2_l.pt": "SAM 2.0 Hiera-L", "sam3.pt": "SAM 3", "sam3.1_multiplex.pt": "SAM 3.1",
}
"""Geo-SAM checkpoints whose models samscape does not have."""


def checkpoint_name(path: str) -> str:
    """The file name of a checkpoint path written on any system (POSIX or Windows)."""
    return PureWindowsPath(PurePosixPath(path).name).name


def model_for_checkpoint(path: str) -> str | None:
    """The samscape model id for a Geo-SAM `checkpoint_path`, or None when there is none."""
    name = checkpoint_name(path)
    if name.lower() in GEOSAM_TO_SAMSCAPE:
        return GEOSAM_TO_SAMSCAPE[name.lower()]
    stem = name.removesuffix(".pt")
    return stem if name.endswith(".pt") and stem in CATALOGUE else None


def unsupported_reason(path: str) -> str:
    """Why the checkpoint's model cannot be used, and what to do (for a one-line error)."""
    name = checkpoint_name(path)
    known = UNSUPPORTED.get(name.lower())
    if known is not None:
        return (f"it was encoded with {known} ({name}), which samscape does not have; encode the "
                "raster again with samscape (e.g. --model sam2.1-hiera-tiny)")
    return (f"its checkpoint {name!r} is not one samscape knows; import that checkpoint ('samscape "
            f"models import {name} --as ID') and open the folder with --model ID, or encode the "
            f"raster again with samscape (known checkpoints: {', '.join(GEOSAM_TO_SAMSCAPE)})")


def checkpoint_for_model(model_id: str) -> str | None:
    """The Geo-SAM checkpoint file name of a samscape model Geo-SAM's plugin lists, or None."""
    for name, mid in GEOSAM_TO_SAMSCAPE.items():
        if mid == model_id and name in GEOSAM_REGISTRY:
            return name
    return None


def registry_family(name: str) -> str | None:
    """The family ("sam", "sam2", "sam3") of a checkpoint of Geo-SAM's registry, or None."""
    name = name.lower()
    if name not in GEOSAM_REGISTRY:
        return None
    return "sam" if name.startswith("sam_") else name[:4]


def may_record(name: str, model_id: str) -> bool:
    """Whether Geo-SAM checkpoint file `name` may be recorded for features of `model_id`: the name
    maps to that model, or the model is an imported one (its own weights: a fine-tuned or renamed
    checkpoint) and the name is one of Geo-SAM's registry of the same family at 1024 px."""
    if model_for_checkpoint(name) == model_id:
        return True
    if model_id in CATALOGUE:
        return False
    spec = get_spec(model_id)
    return registry_family(name) == spec.family and spec.input_size == 1024
