"""Encodes a GeoTIFF into a Geo-SAM v2 feature folder with geosam's own FeatureCacheBuilder.
Runs in the oracle venv: `python build_folder.py CHECKPOINT RASTER OUT [--chip-size N]`; the
model family comes from the checkpoint's name, as Geo-SAM's registry reads it. Prints JSON: the
manifest path, the chip count and the seconds spent."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from check_env import assert_no_torchvision
from geosam import (
    FeatureCacheBuilder,
    ModelSpec,
    RasterDataset,
    get_model_definition,
    infer_model_id_from_checkpoint_path,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("raster", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--chip-size", type=int, default=None, help="pixels; default the model's 1024")
    args = parser.parse_args()
    definition = get_model_definition(infer_model_id_from_checkpoint_path(args.checkpoint))
    spec = ModelSpec(model_type=definition.model_type, checkpoint_path=args.checkpoint, device="cpu")
    start = time.perf_counter()
    builder = FeatureCacheBuilder(RasterDataset(args.raster), spec, args.out, chip_size=args.chip_size)
    loaded = time.perf_counter()
    manifest = builder.build()
    done = time.perf_counter()
    chips = len(list((args.out / "features").glob("chip_*.pt")))
    assert_no_torchvision()
    print(json.dumps({"manifest": str(manifest), "model_type": definition.model_type, "chips": chips,
                      "load_s": round(loaded - start, 2), "encode_s": round(done - loaded, 2)}))


if __name__ == "__main__":
    main()
