"""Click-to-polygon latency: samscape's segmenter against the `transformers` reference path.

For one point prompt on a 1024 px chip, from stored features:

- samscape: `Segmenter.segment` (map → chip pixels, decoder, one mask upscaled, polygons traced
  over the mask's bounding box), with the chip's features in the memory cache, or loaded from
  the feature folder on every click;
- reference: the model's forward with the same stored embeddings, the processor's
  post-processing of all masks to full size (`SamImageProcessorPil.post_process_masks`; for
  SAM 2, whose processor needs torchvision, the same bilinear resize it documents), the best
  mask by predicted IoU, then `rasterio.features.shapes` over the whole chip.

Both get the same prompt; polygons are compared (random weights draw noise masks, logits of a
few hundredths with many pixels near 0, where float rounding flips single pixels). Models are a
SAM ViT-B-sized and a SAM 2.1 Hiera-T-sized model (transformers' default configs) with random
weights, imported into a temporary store as real weights would be. Random weights draw ragged
masks, so polygon tracing weighs more here than with a trained model.

    python benchmarks/bench_segment.py            # both models, 30 clicks each
    python benchmarks/bench_segment.py --compile  # also with the decoder under torch.compile
    python benchmarks/bench_segment.py --saves    # also save time, 1st vs 10 000th object (bench_saves.py)

Goal on the 2-core machine: p50 <= 30 ms for a chip in memory with the ViT-B-sized decoder, and
>= 2x faster than the reference path.

First, on one thread (torch.set_num_threads(1)) and interleaved click by click, the cached decoder
path (`SamBackend.prepare` once per chip, kept with it in the source's memory cache) against the
transformers forward, for the bundled demo model and the ViT-B-sized model: the decoder alone,
and a whole click with the chip in memory (issue 15's goals: ViT-B p50 <= 30 ms and >= 3x the
reference path; the demo model <= 5 ms). `--cached-only` stops there.
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
              trace: bool = True, size: int = CHIP) -> list:
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
            masks = F.interpolate(out.pred_masks[0], (size, size), mode="bilinear",
                                  align_corners=False) > 0
        else:
            masks = SamImageProcessorPil().post_process_masks(
                out.pred_masks, [(size, size)], [(size, size)])[0]
    best = int(out.iou_scores[0, 0].argmax())
    mask = masks[0, best].numpy().astype(np.uint8)
    if not trace:
        return []
    return [shape(g) for g, _ in rasterio.features.shapes(mask, mask=mask.astype(bool),
                                                           transform=transform)]


def ours_mask(backend, features, point: tuple[int, int]) -> np.ndarray:
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
        ours_mask(source.backend, source.decoder_input(0), px)
        timings["ours_mask"].append(time.perf_counter() - t)
        t = time.perf_counter()
        reference(source.backend, features, px, chip.transform, trace=False)
        timings["ref_mask"].append(time.perf_counter() - t)
        identical += same_polygons(list(ours.polygons), ref)
        polygons.append(len(ref))
    return {"timings": {k: percentiles(v) for k, v in timings.items()}, "identical": identical,
            "clicks": clicks, "polygons": statistics.median(polygons)}


def cached_vs_reference(folder: Path, clicks: int) -> dict:
    """The cached decoder path against the transformers forward, interleaved click by click on one
    thread, chip 0 in memory: the decoder alone (low-res logits) and a whole click (prompt in map
    coordinates → polygons; the reference: forward + processor post-processing + tracing the
    whole chip)."""
    from samscape.segment import PromptSet, Segmenter
    from samscape.sources import EncodedSource
    from samscape.vector import VectorOptions, mask_to_polygons

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        source = EncodedSource.open(folder, device="cpu")
        backend, chip = source.backend, source.chips.chip(0)
        size = chip.window.width
        segmenter = Segmenter(source, max_chips=1)
        features = source.features(0)
        rng = np.random.default_rng(2)
        margin = size // 16
        pixels = [tuple(int(v) for v in rng.integers(margin, size - margin, 2)) for _ in range(clicks)]
        keys = ("dec_cached", "dec_ref", "click_cached", "click_ref")
        timings: dict[str, list[float]] = {k: [] for k in keys}
        worst, flipped, same_polygons_count = 0.0, [], 0
        for i, (c, r) in enumerate([pixels[0], pixels[1], *pixels]):  # two warm-up clicks
            point = torch.tensor([[c, r]], dtype=torch.float32)
            prompt = PromptSet(source.crs).add_point(*(chip.transform @ (c + 0.5, r + 0.5)))
            t0 = time.perf_counter()
            ours, our_iou = backend.decode_low_res(source.decoder_input(0), (size, size), point)
            t1 = time.perf_counter()
            ref, ref_iou = backend.reference_low_res(features, (size, size), point)
            t2 = time.perf_counter()
            segmenter.segment(prompt)
            t3 = time.perf_counter()
            reference(backend, features, (c, r), chip.transform, size=size)
            t4 = time.perf_counter()
            if i < 2:
                continue
            for key, seconds in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                timings[key].append(seconds)
            worst = max(worst, float((ours - ref).abs().max() / ref.abs().max()))
            masks = [backend.upscale(low[best:best + 1], (size, size))[0].numpy() > 0
                     for low, best in ((ours, int(our_iou.argmax())), (ref, int(ref_iou.argmax())))]
            flipped.append(int((masks[0] != masks[1]).sum()))
            traced = [mask_to_polygons(m, chip.transform, VectorOptions(min_pixels=0)) for m in masks]
            same_polygons_count += same_polygons(*traced)
        return {"timings": {k: percentiles(v) for k, v in timings.items()}, "size": size,
                "worst": worst, "flipped": flipped, "same_polygons": same_polygons_count,
                "clicks": clicks}
    finally:
        torch.set_num_threads(threads)


def print_cached_vs_reference(model_id: str, r: dict) -> None:
    t = r["timings"]
    n = r["clicks"]
    print(f"\n{model_id}, {r['size']} px chip, one thread: logits within {r['worst']:.1e} of the "
          f"largest; identical polygons of the best mask in {r['same_polygons']}/{n} clicks "
          f"(pixels differing: at most {max(r['flipped'])} of {r['size'] ** 2})")
    for label, ours, ref in (("decoder alone", "dec_cached", "dec_ref"),
                             ("click → polygons (chip in memory)", "click_cached", "click_ref")):
        (o50, o95), (r50, r95) = t[ours], t[ref]
        print(f"  {label}: cached p50 {o50:.1f} ms p95 {o95:.1f} ms | reference p50 {r50:.1f} ms "
              f"p95 {r95:.1f} ms | {r50 / o50:.2f}x at p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--compile", action="store_true",
                        help="also measure with the decoder under torch.compile")
    parser.add_argument("--cached-only", action="store_true",
                        help="only the cached decoder path against the reference, on one thread")
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
        demo = tmp / "demo"
        encode(str(raster), demo, model="demo", device="cpu", progress=False)
        print_cached_vs_reference("demo", cached_vs_reference(demo, args.clicks))
        for model_id, weights in make_models(tmp / "weights").items():
            import_folder(weights, model_id)
            folder = tmp / model_id
            encode(str(raster), folder, model=model_id, device="cpu", progress=False)
            if model_id == "bench-sam-vit-b":
                print_cached_vs_reference(model_id, cached_vs_reference(folder, args.clicks))
            if args.cached_only:
                continue
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
