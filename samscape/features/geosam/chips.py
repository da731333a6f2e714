"""Geo-SAM v2 chip files (`features/chip_NNNNNN.pt`), read into samscape's feature names and
written as `geosam.models.EncodedImageFeatures.save` writes them.

A Geo-SAM chip is a torch-saved dict: `model_type` ("sam", "sam2"), `checkpoint_path` (text),
`src_shape` and `dst_shape` ((height, width) tuples), `feature_kind` ("sam", "sam2") and
`features`: SAM a float32 (1, 256, 64, 64) tensor; SAM 2 {"image_embed": (1, 256, 64, 64),
"high_res_feats": [(1, 32, 256, 256), (1, 64, 128, 128)]} (stride 16, then strides 4 and 8).
torch loads on the first call, so that opening a folder needs none.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..temporaries import replace_with
from .checkpoints import checkpoint_name

if TYPE_CHECKING:
    import torch

SAM2_NAMES = ("high_res_feats_0", "high_res_feats_1", "image_embeddings")
"""samscape's SAM 2 feature names, in Geo-SAM's order: high_res_feats[0], [1], image_embed."""


def read_geosam_chip(path: Path, family: str, checkpoint: str, src_shape: tuple[int, int],
                     shapes: dict[str, tuple[int, int, int]]) -> dict[str, torch.Tensor]:
    """Load with `weights_only=True`; check it is a `family` chip of `checkpoint` (file name),
    made from `src_shape` (height, width) pixels, float32 (or float16), with `shapes` ((C, H, W)
    by samscape name), all finite. Returns samscape's names → (C, H, W) float32; ValueError
    naming the fault."""
    import torch

    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "features" not in payload:
        raise ValueError("not a Geo-SAM chip file")
    if payload.get("model_type") != family:
        raise ValueError(f"made by a {payload.get('model_type')!r} model, not {family!r}")
    made_by = payload.get("checkpoint_path")
    if not isinstance(made_by, str) or checkpoint_name(made_by) != checkpoint:
        raise ValueError(f"made with checkpoint {made_by!r}, not {checkpoint!r}")
    if tuple(payload.get("src_shape") or ()) != tuple(src_shape):
        raise ValueError(f"made from {payload.get('src_shape')} pixels, not {tuple(src_shape)}")
    raw = payload["features"]
    if family == "sam2":
        if not isinstance(raw, dict) or not isinstance(raw.get("high_res_feats"), (list, tuple)) \
                or len(raw["high_res_feats"]) != 2:
            raise ValueError("holds no SAM 2 features (image_embed and two high_res_feats)")
        tensors = [*raw["high_res_feats"], raw.get("image_embed")]
        named = dict(zip(SAM2_NAMES, tensors, strict=True))
    else:
        named = {"image_embeddings": raw}
    features = {}
    for name, tensor in named.items():
        expected = (1, *shapes[name])
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != expected:
            raise ValueError(f"feature {name!r} has shape {tuple(getattr(tensor, 'shape', ()))}, "
                             f"expected {expected}")
        if tensor.dtype not in (torch.float32, torch.float16):  # float16 from Ultralytics' half=True
            raise ValueError(f"feature {name!r} is {tensor.dtype}, expected torch.float32")
        if not torch.isfinite(tensor).all():
            raise ValueError(f"feature {name!r} holds non-finite values")
        features[name] = tensor[0].float()
    return features


def write_geosam_chip(path: Path, family: str, checkpoint_path: str, src_shape: tuple[int, int],
                      dst_shape: tuple[int, int], features: dict[str, torch.Tensor]) -> None:
    """Save samscape-named (C, H, W) features as Geo-SAM's chip dict, float32, atomically."""
    import torch

    def batch(name: str) -> torch.Tensor:
        return features[name].to(torch.float32)[None].contiguous()

    if family == "sam2":
        payload_features: object = {"image_embed": batch("image_embeddings"),
                                    "high_res_feats": [batch("high_res_feats_0"), batch("high_res_feats_1")]}
    else:
        payload_features = batch("image_embeddings")
    payload = {
        "model_type": family,
        "checkpoint_path": checkpoint_path,
        "src_shape": (int(src_shape[0]), int(src_shape[1])),
        "dst_shape": (int(dst_shape[0]), int(dst_shape[1])),
        "feature_kind": family,
        "features": payload_features,
    }
    buffer = io.BytesIO()  # not saved to the temporary path: its name would go into the archive
    torch.save(payload, buffer)
    replace_with(path, buffer.getbuffer())
