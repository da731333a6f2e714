"""Click-to-polygon latency: samscape's segmenter against the `transformers` reference path.

For one point prompt on a 1024 px chip, from stored features:

- samscape: `Segmenter.segment` (map → chip pixels, decoder, one mask upscaled, polygons traced
  over the mask's bounding box), with the chip's features in the memory cache, or loaded from
  the feature folder on every click;
- reference: the model's forward with the same stored embeddings, the processor's
  post-processing of all masks to full size (`SamImageProcessorPil.post_process_masks`; for
  SAM 2, whose processor needs torchvision, the same bilinear resize it documents), the best
  mask by predicted IoU, then `rasterio.features.shapes` over the whole chip.

Both get the same prompt and must give identical polygons. Models are a SAM ViT-B-sized and a
SAM 2.1 Hiera-T-sized model (transformers' default configs) with random weights, imported into a
temporary store as real weights would be. Random weights draw ragged masks, so polygon tracing
weighs more here than with a trained model.

    python benchmarks/bench_segment.py            # both models, 30 clicks each
    python benchmarks/bench_segment.py --compile  # also with the decoder under torch.compile
    python benchmarks/bench_segment.py --saves    # also save time, 1st vs 10 000th object (bench_saves.py)

Goal on the 2-core machine: p50 <= 30 ms for a chip in memory with the ViT-B-sized decoder, and
>= 2x faster than the reference path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features
import shapely
import torch
import torch.nn.functional as F
from affine import Affine
from shapely.geometry import shape

CHIP = 1024


def write_raster(path: Path) -> None:
    yy, xx = np.mgrid[0:CHIP, 0:CHIP]
    data = np.stack([np.sin(xx / (60 + 9 * b)) + np.cos(yy / (45 + 7 * b)) for b in range(3)])
    data = ((data + 2) * 60).astype("uint8")
    with rasterio.open(path, "w", driver="GTiff", width=CHIP, height=CHIP, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        ds.write(data)


def make_models(folder: Path) -> dict[str, Path]:
    from transformers import Sam2Config, Sam2Model, SamConfig, SamModel

    torch.manual_seed(0)
    SamModel(SamConfig()).save_pretrained(folder / "vit-b")
    torch.manual_seed(0)
    Sam2Model(Sam2Config()).save_pretrained(folder / "sam2.1-tiny")
    return {"bench-sam-vit-b": folder / "vit-b", "bench-sam2.1-tiny": folder / "sam2.1-tiny"}


def percentiles(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def reference(backend, features: dict, point: tuple[int, int], transform: Affine,
              trace: bool = True) -> list:
    """transformers forward + processor post-processing + rasterio.features.shapes."""
    from transformers import SamImageProcessorPil

    model = backend.model
    names = backend.feature_names
    embeddings = [features[n].float()[None] for n in names]
    with torch.inference_mode():
        out = model(
            image_embeddings=embeddings if backend.spec.family == "sam2" else embeddings[0],
            input_points=torch.tensor([[[point]]], dtype=torch.float32),
            input_labels=torch.tensor([[[1]]]), multimask_output=True,
        )
        if backend.spec.family == "sam2":
            masks = F.interpolate(out.pred_masks[0], (CHIP, CHIP), mode="bilinear",
                                  align_corners=False) > 0
        else:
            masks = SamImageProcessorPil().post_process_masks(
                out.pred_masks, [(CHIP, CHIP)], [(CHIP, CHIP)])[0]
    best = int(out.iou_scores[0, 0].argmax())
    mask = masks[0, best].numpy().astype(np.uint8)
    if not trace:
        return []
    return [shape(g) for g, _ in rasterio.features.shapes(mask, mask=mask.astype(bool),
                                                           transform=transform)]


def ours_mask(backend, features: dict, point: tuple[int, int]) -> np.ndarray:
    """The segmenter's decode step alone: decoder, best mask upscaled, thresholded."""
    low_res, iou = backend.decode_low_res(features, (CHIP, CHIP), torch.tensor([point], dtype=torch.float32))
    best = int(iou.argmax())
    return (backend.upscale(low_res[best:best + 1], (CHIP, CHIP))[0] > 0).numpy()


def same_polygons(a: list, b: list) -> bool:
    key = lambda polys: sorted(shapely.to_wkb(shapely.normalize(p)) for p in polys)  # noqa: E731
    return key(a) == key(b)


def run(model_id: str, folder: Path, clicks: int, compile_decoder: bool) -> dict:
    from samscape.features import FeatureFolder
    from samscape.segment import PromptSet, Segmenter
    from samscape.sources import ChipCache, EncodedSource

    source = EncodedSource.open(folder, device="cpu")
    if compile_decoder:
        source.backend.model.mask_decoder = torch.compile(source.backend.model.mask_decoder)
    segmenter = Segmenter(source, max_chips=1)
    store = FeatureFolder.open(folder)
    chip = source.chips.chip(0)
    rng = np.random.default_rng(1)
    pixels = [tuple(int(v) for v in rng.integers(64, CHIP - 64, 2)) for _ in range(clicks)]
    prompts = [PromptSet(source.crs).add_point(*(chip.transform @ (c + 0.5, r + 0.5)))
               for c, r in pixels]
    features = store.load_chip(0)
    for p, px in list(zip(prompts, pixels, strict=True))[:3]:  # warm-up (and compile)
        segmenter.segment(p)
        reference(source.backend, features, px, chip.transform)
    timings: dict[str, list[float]] = {
        k: [] for k in ("ours_mem", "ours_disk", "ref_mem", "ref_disk", "ours_mask", "ref_mask")}
    identical = 0
    polygons = []
    for p, px in zip(prompts, pixels, strict=True):
        t = time.perf_counter()
        ours = segmenter.segment(p)
        timings["ours_mem"].append(time.perf_counter() - t)
        source.cache = ChipCache()
        t = time.perf_counter()
        segmenter.segment(p)
        timings["ours_disk"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = reference(source.backend, features, px, chip.transform)
        timings["ref_mem"].append(time.perf_counter() - t)
        t = time.perf_counter()
        reference(source.backend, store.load_chip(0), px, chip.transform)
        timings["ref_disk"].append(time.perf_counter() - t)
        t = time.perf_counter()
        ours_mask(source.backend, source.features(0), px)
        timings["ours_mask"].append(time.perf_counter() - t)
        t = time.perf_counter()
        reference(source.backend, features, px, chip.transform, trace=False)
        timings["ref_mask"].append(time.perf_counter() - t)
        identical += same_polygons(list(ours.polygons), ref)
        polygons.append(len(ref))
    return {"timings": {k: percentiles(v) for k, v in timings.items()}, "identical": identical,
            "clicks": clicks, "polygons": statistics.median(polygons)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--compile", action="store_true",
                        help="also measure with the decoder under torch.compile")
    parser.add_argument("--saves", action="store_true",
                        help="also the time to save the 1st and the 10 000th object in each format")
    parser.add_argument("--saves-only", action="store_true", help="only the save times")
    args = parser.parse_args()
    if args.saves or args.saves_only:
        import bench_saves  # beside this script

        bench_saves.main()
        if args.saves_only:
            return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["SAMSCAPE_HOME"] = str(tmp / "home")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        from samscape import encode
        from samscape.models import import_folder

        raster = tmp / "chip.tif"
        write_raster(raster)
        print(f"torch threads {torch.get_num_threads()}, chip {CHIP} px, {args.clicks} clicks")
        for model_id, weights in make_models(tmp / "weights").items():
            import_folder(weights, model_id)
            folder = tmp / model_id
            encode(str(raster), folder, model=model_id, device="cpu", progress=False)
            for compiled in (False, True) if args.compile else (False,):
                r = run(model_id, folder, args.clicks, compiled)
                t = r["timings"]
                label = f"{model_id}{' (compiled decoder)' if compiled else ''}"
                print(f"\n{label}: median {r['polygons']:.0f} polygons per mask; identical "
                      f"polygons in {r['identical']}/{r['clicks']} clicks")
                ours, ref = t["ours_mask"], t["ref_mask"]
                print(f"  decoder to binary mask (no tracing): samscape p50 {ours[0]:.1f} ms | "
                      f"reference p50 {ref[0]:.1f} ms | {ref[0] / ours[0]:.2f}x")
                for where in ("mem", "disk"):
                    ours, ref = t[f"ours_{where}"], t[f"ref_{where}"]
                    print(f"  chip in {'memory' if where == 'mem' else 'a file'}: samscape p50 "
                          f"{ours[0]:.1f} ms p95 {ours[1]:.1f} ms | reference p50 {ref[0]:.1f} ms "
                          f"p95 {ref[1]:.1f} ms | {ref[0] / ours[0]:.2f}x at p50")


if __name__ == "__main__":
    main()
