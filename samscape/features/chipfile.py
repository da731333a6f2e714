"""`features/chip_NNNNNN.pt`: one chip's feature tensors, written atomically, loaded safely.
torch loads with the first chip read or written, so that opening a folder needs none."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from .temporaries import replace_with

if TYPE_CHECKING:
    import torch

CHIP_FORMAT = "samscape-chip"


def write_chip(path: Path, chip_id: int, model_id: str, chip_shape: tuple[int, int],
               features: dict[str, torch.Tensor], dtype: str) -> None:
    """Save features as `dtype` under a temporary name, then rename: a killed run never leaves a
    file with the final name that holds less than a whole chip. Serialised in memory first, so a
    full disk raises OSError (torch.save to a path raises RuntimeError)."""
    data = chip_bytes(chip_id, model_id, chip_shape, features, dtype)
    replace_with(path, data)


def chip_bytes(chip_id: int, model_id: str, chip_shape: tuple[int, int],
               features: dict[str, torch.Tensor], dtype: str) -> memoryview:
    """The chip file's content: `features` as `dtype`, serialised in memory (a store writes it
    whole)."""
    import torch

    payload = {
        "format": CHIP_FORMAT,
        "format_version": 1,
        "chip_id": chip_id,
        "model_id": model_id,
        "chip_shape": list(chip_shape),
        "features": {k: v.to(getattr(torch, dtype)).contiguous() for k, v in features.items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getbuffer()


def read_chip(path: Path | bytes, chip_id: int, model_id: str, dtype: str,
              shapes: dict[str, tuple[int, int, int]]) -> dict[str, torch.Tensor]:
    """Load a chip file (its path, or its content) with `weights_only=True` and check it is the
    chip the manifest says; raises ValueError (or OSError) naming what is wrong."""
    import torch

    source = io.BytesIO(path) if isinstance(path, bytes) else path
    payload = torch.load(source, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHIP_FORMAT:
        raise ValueError("not a samscape chip file")
    if payload.get("chip_id") != chip_id:
        raise ValueError(f"holds chip {payload.get('chip_id')}, not {chip_id}")
    if payload.get("model_id") != model_id:
        raise ValueError(f"made by model {payload.get('model_id')!r}, not {model_id!r}")
    features = payload.get("features")
    if not isinstance(features, dict) or set(features) != set(shapes):
        raise ValueError(f"has features {sorted(features or {})}, expected {sorted(shapes)}")
    for name, tensor in features.items():
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != tuple(shapes[name]):
            raise ValueError(f"feature {name!r} has shape {getattr(tensor, 'shape', None)}, "
                             f"expected {tuple(shapes[name])}")
        if tensor.dtype != getattr(torch, dtype):
            raise ValueError(f"feature {name!r} is {tensor.dtype}, expected {dtype}")
        if not torch.isfinite(tensor).all():
            raise ValueError(f"feature {name!r} holds non-finite values")
    return features
