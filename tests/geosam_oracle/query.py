"""Answers a point or box prompt from a Geo-SAM v2 feature folder with geosam's own
FeatureQueryEngine. Runs in the oracle venv:
  `python query.py FOLDER CHECKPOINT X Y OUT_DIR [--crs CRS] [--label 1] [--multimask]`
  `python query.py FOLDER CHECKPOINT XMIN YMIN XMAX YMAX OUT_DIR [--crs CRS] [--multimask]`
coordinates in map units of --crs (default: the manifest's CRS). Writes OUT_DIR/mask.npy (N, H, W) bool
at the chip's grid, OUT_DIR/mask.tif (band per mask, uint8) and OUT_DIR/result.json: chip id,
scores, the chip grid (transform a..f, shape [h, w], CRS WKT) and geosam's polygons (GeoJSON)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio
from check_env import assert_no_torchvision
from geosam import (
    BoundingBox,
    FeatureQueryEngine,
    MaskVectorizer,
    ModelSpec,
    Points,
    get_model_definition,
    infer_model_id_from_checkpoint_path,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("coords", type=float, nargs="+", help="X Y (a point) or XMIN YMIN XMAX YMAX (a box)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--crs", default=None)
    parser.add_argument("--label", type=int, default=1)
    parser.add_argument("--multimask", action="store_true")
    args = parser.parse_args()
    definition = get_model_definition(infer_model_id_from_checkpoint_path(args.checkpoint))
    spec = ModelSpec(model_type=definition.model_type, checkpoint_path=args.checkpoint, device="cpu")
    engine = FeatureQueryEngine(args.folder, spec)
    crs = args.crs or engine.manifest.crs
    if len(args.coords) == 2:
        prompt = Points([args.coords], labels=[args.label], crs=crs)
    elif len(args.coords) == 4:
        prompt = BoundingBox(*args.coords, crs=crs)
    else:
        parser.error("give X Y or XMIN YMIN XMAX YMAX")
    result = engine.query(prompt, multimask_output=args.multimask)
    masks = np.asarray(result.mask_array, dtype=bool)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    np.save(args.out_dir / "mask.npy", masks)
    crs_wkt = rasterio.crs.CRS.from_user_input(result.mask_crs).to_wkt()
    with rasterio.open(args.out_dir / "mask.tif", "w", driver="GTiff", width=masks.shape[2],
                       height=masks.shape[1], count=max(len(masks), 1), dtype="uint8",
                       crs=crs_wkt, transform=result.mask_transform) as dst:
        dst.write(masks.astype("uint8") if len(masks) else np.zeros((1, *masks.shape[1:]), "uint8"))
    polygons = [MaskVectorizer.from_query_result(result).to_geojson(mask_index=i) for i in range(len(masks))]
    engine.close()
    assert_no_torchvision()
    (args.out_dir / "result.json").write_text(json.dumps({
        "chip_id": result.chip_id, "model_type": result.model_type,
        "scores": [float(s) for s in result.scores], "transform": list(result.mask_transform)[:6],
        "shape": list(masks.shape[1:]), "crs": crs_wkt, "polygons": polygons,
    }))
    print(json.dumps({"chip_id": result.chip_id, "masks": len(masks),
                      "mask_pixels": [int(m.sum()) for m in masks]}))


if __name__ == "__main__":
    main()
