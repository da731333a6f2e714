"""Encoding throughput: samscape's encoder against a one-chip-at-a-time fp32 baseline.

The baseline encodes the way the Geo-SAM plugin does: for each chip a fresh windowed read of the
raster, then the encoder in float32 on that one chip, then a float32 feature file. samscape runs
`samscape.encode` (batched, next batch read while the current one encodes, mixed precision where
verified, float16 storage). Both use the same raster, the same value range, and the same model:
a SAM ViT-B-sized model (transformers' default SamConfig) with random weights, imported into a
temporary model store exactly as real weights would be.

    python benchmarks/bench_encode.py                 # ViT-B-sized, 9 chips of 1024 px
    python benchmarks/bench_encode.py --size tiny     # seconds-long smoke run
    python benchmarks/bench_encode.py --device cuda --size sam2-tiny   # on a GPU (256 chips)

Prints, in one run on `--device` (default auto), chips/s of: the one-chip fp32 baseline; the model
alone (preprocessed input already on the device, autocast as `encode` uses it, the same batch
size); reading alone (the loop's readers); writing alone (fp16 chip files through the loop's
writer threads into a feature folder); `samscape.encode` end to end, with the share of its time
each stage of the loop is busy (`EncodeResult.stages`; readers' and writers' shares are per
thread). The raster is a tiled, deflate-compressed uint8 GeoTIFF, 1024 px chips at stride 512 for
the 1024 px models. The goal on the 2-core development machine is >= 4x the baseline end to end;
`--json PATH` also writes the numbers (benchmarks/gpu_encode.sh makes its table from them).

    python benchmarks/bench_encode.py --attention demo     # encoder forward, fused vs reference
    python benchmarks/bench_encode.py --attention vit-b    # the same, SAM ViT-B-sized at 1024 px
    python benchmarks/bench_encode.py --attention sam2-tiny  # SAM 2 Hiera-T-sized at 1024 px

    python benchmarks/bench_encode.py --readers 1,2,4      # reading alone and demo end to end

`--readers` writes a tiled, deflate-compressed uint8 GeoTIFF and prints, rounds interleaved,
chips/s of reading alone (1024 px chips, stride 512, through the loop's readers, nothing
encoded) and of the demo model end to end (256 px chips into a feature folder) per reader count.

    python benchmarks/bench_encode.py --autobatch demo           # --batch-size auto: choice, chips/s
    python benchmarks/bench_encode.py --autobatch vit-b --compile  # and --compile against eager

`--autobatch` prints what `--batch-size auto` chooses on the device (`--device`, default auto),
the probe's trials (run here on any device, at most `--cap` chips a batch), chips/s through
`SamBackend.encode` at batch 1, 2, 4 and the auto size (rounds interleaved), and with `--compile`
the compile time (the first compiled batch less an eager one) and compiled against eager chips/s
at the auto size, rounds interleaved.

`--attention` times the image encoder alone (`get_image_embeddings`, one chip a call) with
samscape's fused attention (`samscape.models.attention`) and with transformers' own modules, same
weights, rounds interleaved, in fp32 and under bf16 autocast, and prints chips/s and the ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
import torch
from affine import Affine


def write_raster(path: Path, width: int, height: int) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    data = np.stack([np.sin(xx / (30 + 7 * b)) + np.cos(yy / (40 + 5 * b)) for b in range(3)])
    data = ((data + 2) * 2000 + rng.normal(0, 50, data.shape)).astype("uint16")
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3,
                       dtype="uint16", crs="EPSG:32633", tiled=True, blockxsize=256, blockysize=256,
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        ds.write(data)


def make_model(size: str, folder: Path) -> None:
    from transformers import SamConfig, SamModel

    from samscape.models.catalogue import _tiny_sam

    torch.manual_seed(0)
    config = SamConfig() if size == "vit-b" else SamConfig(**_tiny_sam())
    SamModel(config).save_pretrained(folder)


def baseline(raster: Path, out: Path, backend, value_range, chip_windows) -> float:
    """One chip at a time, fp32, a fresh open + windowed read per chip, fp32 files."""
    from rasterio.windows import Window

    out.mkdir()
    started = time.perf_counter()
    for i, (col, row, w, h) in enumerate(chip_windows):
        with rasterio.open(raster) as ds:
            data = ds.read([1, 2, 3], window=Window(col, row, w, h), masked=True)
        pixels = value_range.to_uint8(data)
        features = backend.encode([torch.from_numpy(pixels)], mixed_precision=False)[0]
        torch.save({k: v.float() for k, v in features.items()}, out / f"chip_{i:06d}.pt")
    return time.perf_counter() - started


def compare_attention(size: str, rounds: int) -> None:
    """Encoder forward chips/s with and without the fused attention, interleaved per round."""
    import contextlib
    import copy

    from transformers import SamConfig, SamModel

    from samscape.models import ModelInfo, SamBackend, load_backend

    if size == "demo":
        demo = load_backend("demo", "cpu")
        spec, model = demo.spec, copy.deepcopy(demo.model)
    else:
        import dataclasses

        from transformers import Sam2Config, Sam2Model

        from samscape.models import CATALOGUE

        torch.manual_seed(0)
        model = (SamModel(SamConfig()) if size == "vit-b" else Sam2Model(Sam2Config())).eval()
        entry = "sam-vit-base" if size == "vit-b" else "sam2.1-hiera-tiny"
        spec = dataclasses.replace(CATALOGUE[entry], id=f"bench-{size}")
    info = ModelInfo(spec.id, spec.family, None, None, "0" * 64, spec.input_size)
    reference = SamBackend(spec, copy.deepcopy(model), info, torch.device("cpu"), fused_attention=False)
    fused = SamBackend(spec, model, info, torch.device("cpu"))
    assert fused.fused_attention and not reference.fused_attention
    rng = np.random.default_rng(0)
    chip = torch.from_numpy(rng.integers(0, 256, (spec.input_size, spec.input_size, 3), dtype=np.uint8))
    pixels = reference.preprocessing([chip])
    print(f"attention: {size} (input {spec.input_size} px, rel pos "
          f"{getattr(model.config.vision_config, 'use_rel_pos', None)}), "
          f"torch threads {torch.get_num_threads()}, "
          f"{rounds} interleaved rounds of one chip", flush=True)
    for precision in ("fp32", "bf16"):
        autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                    else contextlib.nullcontext())
        seconds: dict[str, list[float]] = {"reference": [], "fused": []}
        with torch.inference_mode(), autocast:
            for b in (reference, fused):
                b.model.get_image_embeddings(pixels)  # warm-up
            for _ in range(rounds):
                for name, b in (("reference", reference), ("fused", fused)):
                    started = time.perf_counter()
                    b.model.get_image_embeddings(pixels)
                    seconds[name].append(time.perf_counter() - started)
        ref_s, fused_s = np.median(seconds["reference"]), np.median(seconds["fused"])
        print(f"  {precision}: reference {1 / ref_s:.3f} chips/s, fused {1 / fused_s:.3f} chips/s, "
              f"ratio {ref_s / fused_s:.2f}x (median of {rounds})", flush=True)


def write_deflate(path: Path, size: int) -> None:
    """A `size`² tiled, deflate-compressed uint8 RGB GeoTIFF with texture (so it compresses as a photo)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       crs="EPSG:32633", tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        for b in range(3):
            band = 100 + 60 * np.sin(xx / (30 + 7 * b)) * np.cos(yy / (40 + 5 * b))
            ds.write((band + rng.normal(0, 12, band.shape)).clip(0, 255).astype("uint8"), b + 1)


def compare_readers(counts: list[int], rounds: int, size: int) -> None:
    """Reading alone and demo-model encoding end to end, chips/s per reader count, interleaved."""
    from contextlib import closing

    from samscape.chiploop import _read_ahead, default_readers, encode_chips
    from samscape.features import prepare_folder
    from samscape.geo import ChipGrid
    from samscape.planning import plan_encoding
    from samscape.raster import RasterSource
    from samscape.settings import settings_with
    from samscape.threads import apply

    apply("batch")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raster = tmp / "scene.tif"
        write_deflate(raster, size)
        e2e_raster = tmp / "small.tif"
        write_deflate(e2e_raster, size // 2)
        print(f"readers: {size}² deflate uint8 raster, default readers {default_readers()}, "
              f"torch threads {torch.get_num_threads()}, {rounds} interleaved rounds", flush=True)
        read: dict[int, list[float]] = {n: [] for n in counts}
        e2e: dict[int, list[float]] = {n: [] for n in counts}
        with RasterSource(raster) as source:
            grid = source.grid
            spec = source.spec((1, 2, 3), grid, None)
            chips = list(ChipGrid(grid, 1024, 512))
        settings = settings_with(None, model="demo", device="cpu", batch_size=4)
        for r in range(rounds):
            for n in counts:
                with RasterSource(raster) as source:
                    started = time.perf_counter()
                    with closing(_read_ahead(source, spec, chips, n, 8 + n)) as reads:
                        got = sum(1 for _ in reads)
                    read[n].append(got / (time.perf_counter() - started))
                with RasterSource(e2e_raster) as source:
                    plan = plan_encoding(source, settings)
                    state = prepare_folder(tmp / f"ff-{r}-{n}", plan.metadata, False)
                    todo = list(plan.chips)
                    started = time.perf_counter()
                    with closing(encode_chips(source, plan, todo, 4, state, readers=n)) as loop:
                        done = sum(len(b) for b in loop)
                    state.flush()
                    e2e[n].append(done / (time.perf_counter() - started))
        base = counts[0]
        for name, table, unit in (("reading alone", read, f"{len(chips)} chips of 1024 px"),
                                  ("demo end to end", e2e, f"{len(todo)} chips of 256 px")):
            line = ", ".join(f"{n} readers {np.median(table[n]):.1f} chips/s "
                             f"({np.median(table[n]) / np.median(table[base]):.2f}x)" for n in counts)
            print(f"  {name} ({unit}, median of {rounds}): {line}", flush=True)
            print("    rounds: " + "; ".join(f"{n}: " + " ".join(f"{v:.1f}" for v in table[n])
                                          for n in counts), flush=True)


def write_uint8(path: Path, width: int, height: int) -> None:
    """A `width` x `height` tiled, deflate-compressed uint8 RGB GeoTIFF with texture, written in
    strips (a photo-like scene that compresses as one)."""
    from rasterio.windows import Window

    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8",
                       crs="EPSG:32633", tiled=True, blockxsize=256, blockysize=256, compress="deflate",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        for top in range(0, height, 1024):
            rows = min(1024, height - top)
            yy, xx = np.mgrid[top:top + rows, 0:width]
            bands = [100 + 60 * np.sin(xx / (30 + 7 * b)) * np.cos(yy / (40 + 5 * b)) for b in range(3)]
            data = np.stack([(b + rng.normal(0, 12, b.shape)).clip(0, 255) for b in bands]).astype("uint8")
            ds.write(data, window=Window(0, top, width, rows))


def make_any_model(size: str, folder: Path) -> None:
    if size != "sam2-tiny":
        make_model(size, folder)
        return
    from transformers import Sam2Config, Sam2Model

    torch.manual_seed(0)
    Sam2Model(Sam2Config()).save_pretrained(folder)  # Hiera-T-sized, as sam2.1-hiera-tiny


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_alone(backend, chips: list[torch.Tensor], mixed: bool, rounds: int) -> float:
    """chips/s of the model on a batch already preprocessed on the device, autocast as `encode`."""
    import contextlib

    from samscape.models import autocast_dtype

    device = backend.device
    reduced = autocast_dtype(device) if mixed else None
    with torch.inference_mode():
        pixels = backend.preprocessing(chips, device)
        autocast = torch.autocast(device.type, dtype=reduced) if reduced else contextlib.nullcontext()
        with autocast:
            backend.model.get_image_embeddings(pixels)  # warm-up
            sync(device)
            started = time.perf_counter()
            for _ in range(rounds):
                backend.model.get_image_embeddings(pixels)
            sync(device)
    return rounds * len(chips) / (time.perf_counter() - started)


def reading_alone(raster: Path, settings, chip_list, pin: bool) -> float:
    from contextlib import closing

    from samscape.chiploop import _read_ahead, default_readers
    from samscape.planning import plan_chips
    from samscape.raster import RasterSource

    readers = default_readers()
    with RasterSource(raster) as source:
        spec, _ = plan_chips(source, settings, chip_list[0].window.width)
        started = time.perf_counter()
        with closing(_read_ahead(source, spec, chip_list, readers, 2 * settings.batch_size + readers,
                                 pin)) as reads:
            got = sum(1 for _ in reads)
    return got / (time.perf_counter() - started)


def writing_alone(out: Path, plan, chip_list) -> float:
    """fp16 chip files through `WRITERS` threads into a feature folder, as the loop writes them."""
    from concurrent.futures import ThreadPoolExecutor

    from samscape.chiploop import WRITERS
    from samscape.features import prepare_folder

    state = prepare_folder(out, plan.metadata, False)
    shapes = plan.metadata.feature_shapes
    features = [{k: torch.randn(shape).to(torch.float16) for k, shape in shapes.items()}
                for _ in range(4)]
    started = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        for i, chip in enumerate(chip_list):
            pool.submit(state.write, chip, (chip.window.height, chip.window.width), features[i % 4])
    state.flush()
    return len(chip_list) / (time.perf_counter() - started)


def measure_all(args: argparse.Namespace) -> None:
    """The one-run table on `args.device`: baseline, model alone, reading, writing, end to end."""
    import json

    from samscape.chiploop import WRITERS, default_readers

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["SAMSCAPE_HOME"] = str(tmp / "home")
        from samscape import encode
        from samscape.geo import ChipGrid
        from samscape.models import autocast_dtype, import_folder, load_backend
        from samscape.planning import plan_encoding
        from samscape.raster import RasterSource
        from samscape.settings import settings_with

        make_any_model(args.size, tmp / "weights")
        import_folder(tmp / "weights", "bench-model")
        backend = load_backend("bench-model", args.device)
        device = backend.device
        gpu = device.type == "cuda"
        cols = args.cols or (12 if gpu else 3)
        rows = args.rows or (12 if gpu else 3)
        batch = args.batch_size or (16 if gpu else 2)
        chip = backend.spec.input_size
        width, height = chip + (cols - 1) * chip // 2, chip + (rows - 1) * chip // 2
        raster = tmp / "scene.tif"
        write_uint8(raster, width, height)
        settings = settings_with(None, model="bench-model", device=args.device, batch_size=batch)
        with RasterSource(raster) as source:
            value_range = source.spec((1, 2, 3), source.grid, None).value_range
            settings = settings_with(settings, value_range=(value_range.low, value_range.high))
            plan = plan_encoding(source, settings, backend)
            chip_list = list(plan.chips)
            pixels = [torch.from_numpy(source.read_chip(plan.read_spec, c.window)) for c in chip_list[:batch]]
        windows = [(c.window.col_off, c.window.row_off, c.window.width, c.window.height)
                   for c in ChipGrid(plan.read_spec.grid, chip, chip // 2)]
        print(f"model: {args.size} (input {chip} px) on {device}"
              f"{' (' + torch.cuda.get_device_name(device) + ')' if gpu else ''}, raster {width}x{height} "
              f"uint8 deflate, {len(chip_list)} chips, batch {batch}, "
              f"torch threads {torch.get_num_threads()}, "
              f"readers {default_readers()}, writers {WRITERS}, autocast "
              f"{autocast_dtype(device) if plan.mixed_precision else None}", flush=True)
        rates: dict[str, float] = {}

        n_base = min(len(windows), args.baseline_chips or (32 if gpu else len(windows)))
        backend.encode(pixels[:1], mixed_precision=False)  # first-call setup, left out of the baseline
        sync(device)
        base_s = baseline(raster, tmp / "baseline", backend, value_range, windows[:n_base])
        rates["baseline"] = n_base / base_s
        print(f"baseline (one chip, fp32): {rates['baseline']:.3f} chips/s ({n_base} chips)", flush=True)

        rounds = max(2, -(-len(chip_list) // batch)) if gpu else 1
        rates["model"] = model_alone(backend, pixels, plan.mixed_precision, rounds)
        print(f"model alone (batch {len(pixels)}, {rounds} rounds): {rates['model']:.3f} chips/s", flush=True)
        rates["read"] = reading_alone(raster, settings, chip_list, gpu)
        print(f"reading alone ({default_readers()} readers): {rates['read']:.2f} chips/s", flush=True)
        rates["write"] = writing_alone(tmp / "written", plan, chip_list)
        print(f"writing alone (fp16 files, {WRITERS} writers): {rates['write']:.2f} chips/s", flush=True)
        del plan, backend
        started = time.perf_counter()
        result = encode(str(raster), tmp / "ours", settings, progress=sys.stderr.isatty())
        ours_s = time.perf_counter() - started
        assert result.encoded == len(chip_list)
        rates["end_to_end"] = result.encoded / result.seconds
        stages = result.stages.as_dict()
        threads = {"read": default_readers(), "write": WRITERS}
        shares = {k: v / result.seconds / threads.get(k, 1) for k, v in stages.items()}
        print(f"samscape.encode end to end: {rates['end_to_end']:.3f} chips/s ({result.seconds:.1f} s "
              f"reading + encoding + writing; {len(chip_list) / ours_s:.3f} chips/s with model load "
              "and setup)", flush=True)
        print("  busy share: " + ", ".join(
            f"{k} {100 * v:.0f}%" + (f" (per thread of {threads[k]})" if k in threads else "")
            for k, v in shares.items()), flush=True)
        print(f"end to end: {rates['end_to_end'] / rates['baseline']:.2f}x the baseline (CPU goal >= 4x), "
              f"{100 * rates['end_to_end'] / rates['model']:.0f}% of the model alone", flush=True)
        base_mb = sum(f.stat().st_size for f in (tmp / "baseline").iterdir()) / 2**20 / n_base
        ours_mb = (sum(f.stat().st_size for f in (tmp / "ours" / "features").iterdir())
                   / 2**20 / len(chip_list))
        print(f"disk per chip: baseline {base_mb:.2f} MiB, samscape {ours_mb:.2f} MiB")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "size": args.size, "device": str(device), "batch": batch, "chips": len(chip_list),
                "readers": default_readers(), "writers": WRITERS, "chips_per_second": rates,
                "busy_share": shares}, indent=1))


def compare_autobatch(size: str, rounds: int, compile_: bool, device: str, cap: int) -> None:
    """What `--batch-size auto` picks and chips/s per batch size; with `compile_`, compiled against
    eager at that size; rounds interleaved."""
    import copy
    import dataclasses

    from transformers import SamConfig, SamModel

    from samscape.models import CATALOGUE, ModelInfo, SamBackend, load_backend, pick_device
    from samscape.models.tuning import auto_batch_size, probe_batch_size
    from samscape.threads import apply

    apply("batch")
    dev = pick_device(device)
    if size == "demo":
        demo = load_backend("demo", "cpu")
        spec, model = demo.spec, copy.deepcopy(demo.model)
    else:
        torch.manual_seed(0)
        model = SamModel(SamConfig()).eval()
        spec = dataclasses.replace(CATALOGUE["sam-vit-base"], id="bench-vit-b")
    info = ModelInfo(spec.id, spec.family, None, None, "0" * 64, spec.input_size)
    eager = SamBackend(spec, model, info, dev)
    choice = auto_batch_size(eager)
    print(f"autobatch: {size} (input {spec.input_size} px) on {dev}, torch threads "
          f"{torch.get_num_threads()}: --batch-size auto = {choice.batch_size} ({choice.reason})", flush=True)
    probe = probe_batch_size(eager, cap=cap, repeats=1)
    print(f"  probe (cap {cap}): chooses {probe.batch_size}, stopped on {probe.reason}; "
          + ", ".join(f"{t.batch_size}: {t.chips_per_second:.3f} chips/s"
                      + (f" {t.memory_bytes / 2**30:.2f} GiB" if t.memory_bytes is not None else "")
                      for t in probe.trials), flush=True)
    rng = np.random.default_rng(0)
    sizes = sorted({1, 2, 4, choice.batch_size})
    chips = [torch.from_numpy(rng.integers(0, 256, (spec.input_size, spec.input_size, 3), dtype=np.uint8))
             for _ in range(max(sizes))]
    eager.encode(chips[:1])
    rates: dict[int, list[float]] = {b: [] for b in sizes}
    for _ in range(rounds):
        for b in sizes:
            started = time.perf_counter()
            eager.encode(chips[:b])
            rates[b].append(b / (time.perf_counter() - started))
    print(f"  chips/s by batch size (median of {rounds}): " + ", ".join(
        f"{b}: {np.median(rates[b]):.3f} [{' '.join(f'{v:.3f}' for v in rates[b])}]" for b in sizes),
        flush=True)
    if not compile_:
        return
    b = choice.batch_size
    compiled = SamBackend(spec, copy.deepcopy(model), info, dev)
    compiler = compiled.compile(b)
    started = time.perf_counter()
    compiled.encode(chips[:b])
    first = time.perf_counter() - started
    timed: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(rounds):
        for name, backend in (("eager", eager), ("compiled", compiled)):
            started = time.perf_counter()
            backend.encode(chips[:b])
            timed[name].append(time.perf_counter() - started)
    eager_s, compiled_s = np.median(timed["eager"]), np.median(timed["compiled"])
    print(f"  compile: {'failed, eager' if compiler.failed else 'ok'}; first batch {first:.1f} s "
          f"(compile about {first - eager_s:.1f} s); batch {b}: eager {b / eager_s:.3f} chips/s, "
          f"compiled {b / compiled_s:.3f} chips/s, ratio {eager_s / compiled_s:.2f}x (median of {rounds}; "
          f"eager {' '.join(f'{v:.2f}' for v in timed['eager'])} s, compiled "
          f"{' '.join(f'{v:.2f}' for v in timed['compiled'])} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attention", choices=["demo", "vit-b", "sam2-tiny"],
                        help="only compare encoder forward time with and without fused attention")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds for --attention and --readers")
    parser.add_argument("--readers", help="compare reader counts, e.g. 1,2,4 (reading, demo end to end)")
    parser.add_argument("--autobatch", choices=["demo", "vit-b"],
                        help="only print --batch-size auto's choice and chips/s per batch size")
    parser.add_argument("--compile", action="store_true", help="with --autobatch: compiled against eager")
    parser.add_argument("--cap", type=int, default=4, help="with --autobatch: the probe's largest batch")
    parser.add_argument("--raster-size", type=int, default=4096, help="raster side for --readers")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    parser.add_argument("--size", choices=["vit-b", "tiny", "sam2-tiny"], default="vit-b")
    parser.add_argument("--cols", type=int, help="chip columns, stride half a chip (3; 12 on CUDA)")
    parser.add_argument("--rows", type=int, help="chip rows (3; 12 on CUDA)")
    parser.add_argument("--batch-size", type=int, help="batch size (2; 16 on CUDA)")
    parser.add_argument("--baseline-chips", type=int, help="chips the baseline encodes (all; 32 on CUDA)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args()
    if args.readers:
        compare_readers([int(n) for n in args.readers.split(",")], args.rounds, args.raster_size)
        return
    if args.attention:
        compare_attention(args.attention, args.rounds)
        return
    if args.autobatch:
        compare_autobatch(args.autobatch, args.rounds, args.compile, args.device, args.cap)
        return
    measure_all(args)


if __name__ == "__main__":
    main()
