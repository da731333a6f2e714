"""What samscape must reproduce from a Geo-SAM v2 folder's first chip, computed by geosam and
Ultralytics themselves, without running the encoder again. Runs in the oracle venv:
  `python reference.py FOLDER CHECKPOINT X Y OUT_PT`
X, Y: a foreground point in the model's 1024² input pixels. OUT_PT (torch.save, tensors only):
"image" (H, W, 3) uint8, the chip as geosam hands it to Ultralytics (RasterSample.to_model_image);
"pixels" (1, 3, 1024, 1024), the encoder input Ultralytics makes of it (Predictor.preprocess);
"features", the chip file's, as FeatureCacheBuilder stored them (SAM: (1, 256, 64, 64); SAM 2:
{"image_embed", "high_res_feats"}); "low_res" (1, 256, 256) mask logits and "iou" (1,) that
Ultralytics' decoder gives for the point from those features, single-mask output."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import torch
from check_env import assert_no_torchvision
from geosam import (
    BoundingBox,
    EncodedImageFeatures,
    ModelSpec,
    RasterDataset,
    build_model_adapter,
    get_model_definition,
    infer_model_id_from_checkpoint_path,
)
from shapely.geometry import box


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("x", type=float)
    parser.add_argument("y", type=float)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    definition = get_model_definition(infer_model_id_from_checkpoint_path(args.checkpoint))
    adapter = build_model_adapter(ModelSpec(model_type=definition.model_type,
                                            checkpoint_path=args.checkpoint, device="cpu"))
    row = gpd.read_parquet(args.folder / "manifest.parquet").iloc[0]
    dataset = RasterDataset(row["source_path"])
    chip = dataset[BoundingBox(*row["geometry"].bounds, crs=dataset.crs)]  # left, bottom, right, top
    assert box(*chip.bbox.to_tuple()).equals(row["geometry"]), "the chip read differs from the manifest's"
    image = chip.to_model_image()

    predictor = adapter._build_predictor()
    predictor.setup_source(image)  # what Predictor.set_image does before the encoder
    pixels = predictor.preprocess(next(iter(predictor.dataset))[1])
    features = EncodedImageFeatures.load(row["feature_path"]).features
    with torch.inference_mode():
        prompts = predictor._prepare_prompts((1024, 1024), (1024, 1024), points=[[args.x, args.y]],
                                             labels=[1])
        low_res, iou = predictor._inference_features(features, *prompts, multimask_output=False)
    torch.save({"image": torch.from_numpy(image.copy()), "pixels": pixels.float().cpu(),
                "features": features, "low_res": low_res.float().cpu(), "iou": iou.float().cpu()}, args.out)
    assert_no_torchvision()
    print(json.dumps({"out": str(args.out), "model_type": definition.model_type}))


if __name__ == "__main__":
    main()
