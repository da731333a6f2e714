"""Runs Ultralytics' SAM / SAM 2 encoder and decoder as geosam drives them, on one image, and saves
what samscape must reproduce from the same checkpoint. Runs in the oracle venv:
  `python embed.py CHECKPOINT IMAGE_NPY OUT_PT X Y`
IMAGE_NPY: (H, W, 3) uint8, handed to the predictor as geosam hands a chip (see docs/geosam.md for
what Ultralytics then does to it). X, Y: a foreground point in the model's 1024² input pixels.
OUT_PT (torch.save, tensors only): "pixels" (1, 3, 1024, 1024) the encoder's input; "features"
as geosam stores them (SAM: (1, 256, 64, 64); SAM 2: {"image_embed", "high_res_feats"});
"low_res" (1, 256, 256) mask logits and "iou" (1,) for the point, single-mask output."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from check_env import assert_no_torchvision
from geosam import ModelSpec, build_model_adapter, get_model_definition, infer_model_id_from_checkpoint_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("image", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("x", type=float)
    parser.add_argument("y", type=float)
    args = parser.parse_args()
    definition = get_model_definition(infer_model_id_from_checkpoint_path(args.checkpoint))
    adapter = build_model_adapter(ModelSpec(model_type=definition.model_type,
                                            checkpoint_path=args.checkpoint, device="cpu"))
    image = np.load(args.image)
    encoded = adapter.encode_image(image)  # geosam's own path: predictor.set_image(image)

    predictor = adapter._build_predictor()
    predictor.setup_source(image)  # what set_image does, keeping the preprocessed tensor
    batch = next(iter(predictor.dataset))
    pixels = predictor.preprocess(batch[1])
    with torch.inference_mode():
        features = predictor.get_im_features(pixels)
        same = _equal(features, encoded.features)
        prompts = predictor._prepare_prompts((1024, 1024), (1024, 1024), points=[[args.x, args.y]],
                                             labels=[1])
        low_res, iou = predictor._inference_features(features, *prompts, multimask_output=False)
    if not same:
        raise SystemExit("the predictor's features differ from geosam's encode_image on the same image")
    torch.save({"pixels": pixels.float().cpu(), "features": encoded.features,
                "low_res": low_res.float().cpu(), "iou": iou.float().cpu()}, args.out)
    assert_no_torchvision()
    print(json.dumps({"out": str(args.out), "model_type": definition.model_type}))


def _equal(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a.cpu(), b.cpu())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return a == b


if __name__ == "__main__":
    main()
