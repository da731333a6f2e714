"""Scale: large feature folders (open, lookup, manifest flush) and a 50 000² raster (planning, peak
memory of an encode), each measured in a fresh process, this tree and a baseline tree interleaved.

    python benchmarks/bench_scale.py [--baseline /path/to/other/checkout] [--chips 100000]
                                     [--rounds 2] [--encode-chips 64]
    python benchmarks/bench_scale.py --dask [--rounds 3] [--dask-side 1536]

--dask instead compares chips/s of the plain local encoder with 1 and 2 local Dask workers
(`--cluster local:1`, `local:2`) on one `--dask-side`² GeoTIFF with the demo model, in one process,
rounds interleaved; the clusters are started and their workers warmed before timing.

The folder is synthetic: a manifest of `--chips` records over a grid of that many chips (no chip
files: opening reads only the manifest). The raster is a VRT mosaicking one 1000² GeoTIFF 50 × 50
times (no disk cost, no overviews); the encode runs the bundled demo model on the whole raster and
stops after `--encode-chips` chips.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
TILE = 1000
SIDE = 50_000


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss keeps the forking parent's across exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


# ---- workers: run in a fresh interpreter with PYTHONPATH set to the tree measured ----

def big_metadata(template: Path, chips: int):
    """The one-chip demo folder's metadata with a grid of about `chips` 256² chips, stride 128."""
    from samscape.features import FeatureFolder, GridRecord
    from samscape.geo import ChipGrid

    meta = FeatureFolder.open(template).metadata
    per_side = max(1, round(chips ** 0.5))
    side = 128 * (per_side - 1) + 256
    grid = meta.preprocessing.grid.model_copy(update={"width": side, "height": side})
    grid = GridRecord.model_validate(grid.model_dump())
    pre = meta.preprocessing.model_copy(update={"grid": grid})
    chip_grid = ChipGrid(grid.to_grid(), 256, 128)
    return meta.model_copy(update={"preprocessing": pre, "grid_chip_count": len(chip_grid)}), chip_grid


def worker_make_folder(template: str, out: str, chips: int) -> dict:
    from samscape.features import ChipRecord, write_manifest

    meta, grid = big_metadata(Path(template), chips)
    Path(out, "features").mkdir(parents=True)
    write_manifest(Path(out), meta, [ChipRecord.from_chip(c) for c in grid])
    return {"chips": len(grid)}


def worker_open(folder: str) -> dict:
    import random

    import pyarrow.parquet  # noqa: F401  (imported before the clock: both trees need it)

    from samscape.features import FeatureFolder
    from samscape.geo import ChipGrid

    before = rss_mib()
    start = time.perf_counter()
    features = FeatureFolder.open(folder)
    opened = time.perf_counter() - start
    grown = rss_mib() - before
    pre = features.metadata.preprocessing
    grid = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
    rng = random.Random(0)
    points = [(rng.uniform(0, grid.grid.width), rng.uniform(0, grid.grid.height)) for _ in range(2000)]
    start = time.perf_counter()
    for col, row in points:
        found = [c for c in grid.containing(col, row, col, row) if c.chip_id in features.records]
        features.chip_file(found[0].chip_id)
    lookup = (time.perf_counter() - start) / len(points)
    return {"open_s": opened, "open_mib": grown, "lookup_ms": lookup * 1e3, "records": len(features)}


def worker_flush(template: str, out: str, chips: int, new: int) -> dict:
    """Seconds for the periodic flush of a folder holding `chips` records plus `new` just written."""
    import inspect

    from samscape.features import ChipRecord, FolderState

    meta, grid = big_metadata(Path(template), chips + new)
    chips = len(grid) - new
    folder = Path(out)
    (folder / "features").mkdir(parents=True)
    appending = "append" in inspect.signature(FolderState.flush).parameters
    if appending:
        from samscape.features.manifest import ManifestJournal
        from samscape.features.records import WrittenChips

        state = FolderState(folder, meta, WrittenChips(grid), set(), ManifestJournal(folder, grid))
        for chip_id in range(chips):
            state.records.add(chip_id)
        state.flush()
    else:
        state = FolderState(folder, meta, {}, set())
        for chip_id in range(chips):
            state.records[chip_id] = ChipRecord.from_chip(grid.chip(chip_id))
        state.flush()
    times = []
    for k in range(4):  # four periodic flushes of `new` chips each
        for chip_id in range(chips + k * new // 4, chips + (k + 1) * new // 4):
            state.records[chip_id] = ChipRecord.from_chip(grid.chip(chip_id))
        start = time.process_time()
        if appending:
            state.flush(append=True)
        else:
            state.flush()
        times.append(time.process_time() - start)
    return {"flush_cpu_s": sorted(times)[len(times) // 2], "records": chips + new}


def worker_raster(vrt: str, out: str, stop_after: int) -> dict:
    from samscape import encode
    from samscape.models import load_backend
    from samscape.planning import plan_chips
    from samscape.raster import RasterSource
    from samscape.settings import EncodeSettings

    before = rss_mib()
    load_backend("demo", "cpu")
    model = rss_mib() - before
    with RasterSource(vrt) as source:
        start = time.process_time()
        _, chips = plan_chips(source, EncodeSettings(model="demo"), 256)
        planning = time.process_time() - start

    class Enough(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done >= stop_after:
            raise Enough

    start = time.perf_counter()
    try:
        encode(vrt, out, model="demo", progress=progress)
    except Enough:
        pass
    return {"plan_cpu_s": planning, "chips": len(chips), "encode_s": time.perf_counter() - start,
            "peak_mib": peak_mib(), "model_mib": model, "peak_without_model_mib": peak_mib() - model}


def worker_dask(raster: str, out: str, rounds: int) -> dict:
    """chips/s of the plain local encoder and of 1 and 2 local Dask workers, rounds interleaved."""
    import shutil

    import torch

    from samscape import encode
    from samscape.cluster import connect
    from samscape.threads import cores

    torch.set_num_threads(cores())  # the local encoder's policy: every core
    root = Path(out)
    warm = root / "warm.tif"
    make_tiff(warm, 512)
    got: dict[str, list[float]] = {"local": [], "dask1": [], "dask2": []}
    with connect("local:1") as one, connect("local:2") as two:
        clusters = {"dask1": one.client.scheduler.address, "dask2": two.client.scheduler.address}
        encode(str(warm), root / "warm-local", model="demo", batch_size=4, progress=False)
        for name, address in clusters.items():  # workers load the model before the clock
            encode(str(warm), root / f"warm-{name}", model="demo", batch_size=4, cluster=address,
                   progress=False)
        for k in range(rounds):
            for name in got:
                folder = root / f"{name}-{k}"
                result = encode(raster, folder, model="demo", batch_size=4, progress=False,
                                cluster=clusters.get(name))
                got[name].append(result.chips_per_second)
                shutil.rmtree(folder)
    return {"chips_per_second": got, "cores": cores()}


WORKERS = {"make-folder": worker_make_folder, "open": worker_open, "flush": worker_flush,
           "raster": worker_raster, "dask": worker_dask}


# ---- the driver ----

def run(tree: Path, kind: str, *args: object) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, __file__, "--worker", kind, *map(str, args)], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def make_tiff(path: Path, side: int, seed: int = 1) -> Path:
    """A `side`² 3-band uint8 GeoTIFF of smooth structure and noise (tiled), EPSG:32633."""
    import numpy as np
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side]
    data = np.stack([(127 + 60 * np.sin(xx / (17 + 5 * b)) + 40 * np.cos(yy / 23)
                      + 10 * rng.standard_normal((side, side))).clip(0, 255) for b in range(3)])
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000),
                       tiled=True) as ds:
        ds.write(data.astype("uint8"))
    return path


def dask_main(args: argparse.Namespace) -> None:
    """The Dask section: plain local encoder vs 1 and 2 local Dask workers, in one process."""
    with tempfile.TemporaryDirectory() as tmp:
        raster = make_tiff(Path(tmp) / "scene.tif", args.dask_side)
        env = {**os.environ, "PYTHONPATH": str(HERE)}
        env.pop("OMP_NUM_THREADS", None)
        env.pop("SAMSCAPE_THREADS", None)
        done = subprocess.run([sys.executable, __file__, "--worker", "dask", str(raster), tmp,
                               str(args.rounds)], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"dask failed:\n{done.stderr[-3000:]}")
        got = json.loads(done.stdout.strip().splitlines()[-1])
    rates = got["chips_per_second"]

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    base = median(rates["local"])
    print(f"{'':8} {'chips/s':>8} {'vs local':>9}   (rounds: chips/s)")
    for name, values in rates.items():
        print(f"{name:8} {median(values):8.2f} {median(values) / base:8.2f}x   "
              + " ".join(f"{v:.2f}" for v in values))
    print(f"(demo model, {args.dask_side}² px GeoTIFF, batch size 4, {got['cores']} cores; dask1/dask2: "
          "--cluster local:1 / local:2 started and warmed before timing; rounds interleaved, medians)")


def make_vrt(root: Path) -> Path:
    """A VRT of SIDE² px: one 1000² 3-band GeoTIFF repeated (SIDE / TILE)² times."""
    from rasterio.crs import CRS

    tile = make_tiff(root / "tile.tif", TILE, seed=0)
    wkt = CRS.from_epsg(32633).to_wkt()
    k = SIDE // TILE
    bands = []
    for b in range(1, 4):
        sources = "".join(
            f'<SimpleSource><SourceFilename relativeToVRT="0">{tile}</SourceFilename>'
            f'<SourceBand>{b}</SourceBand><SrcRect xOff="0" yOff="0" xSize="{TILE}" ySize="{TILE}"/>'
            f'<DstRect xOff="{c * TILE}" yOff="{r * TILE}" xSize="{TILE}" ySize="{TILE}"/></SimpleSource>'
            for r in range(k) for c in range(k))
        bands.append(f'<VRTRasterBand dataType="Byte" band="{b}">{sources}</VRTRasterBand>')
    vrt = root / "mosaic.vrt"
    vrt.write_text(f'<VRTDataset rasterXSize="{SIDE}" rasterYSize="{SIDE}"><SRS>{wkt}</SRS>'
                   '<GeoTransform>500000, 0.5, 0, 4000000, 0, -0.5</GeoTransform>'
                   + "".join(bands) + "</VRTDataset>")
    return vrt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--chips", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--encode-chips", type=int, default=64)
    parser.add_argument("--dask", action="store_true",
                        help="compare the local encoder with 1 and 2 local Dask workers instead")
    parser.add_argument("--dask-side", type=int, default=1536)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        typed = [int(v) if v.isdigit() else v for v in rest]
        print(json.dumps(WORKERS[kind](*typed)))
        return
    if args.dask:
        dask_main(args)
        return
    trees = {"this": HERE}
    if args.baseline:
        trees = {"baseline": args.baseline.resolve(), **trees}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        one = root / "one.tif"
        import numpy as np
        import rasterio
        from affine import Affine

        with rasterio.open(one, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8",
                           crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
            ds.write(np.random.default_rng(0).integers(0, 255, (3, 256, 256), dtype=np.uint8))
        subprocess.run([sys.executable, "-m", "samscape.cli.main", "encode", str(one), str(root / "one"),
                        "--model", "demo", "--quiet"], check=True,
                       env={**os.environ, "PYTHONPATH": str(HERE)})
        run(HERE, "make-folder", root / "one", root / "big", args.chips)
        vrt = make_vrt(root)
        results: dict[str, dict[str, list[dict]]] = {name: {} for name in trees}
        step = 0
        for _ in range(args.rounds):
            for name, tree in trees.items():
                step += 1
                got = results[name]
                got.setdefault("open", []).append(run(tree, "open", root / "big"))
                for n in (10_000, args.chips):
                    got.setdefault(f"flush{n}", []).append(
                        run(tree, "flush", root / "one", root / f"flush{step}-{n}", n, 2000))
                got.setdefault("raster", []).append(
                    run(tree, "raster", vrt, root / f"enc{step}", args.encode_chips))
                print(f"round done: {name}", file=sys.stderr)
        report(results, args)


def report(results: dict[str, dict[str, list[dict]]], args: argparse.Namespace) -> None:
    def median(rows: list[dict], key: str) -> float:
        values = sorted(r[key] for r in rows)
        return values[len(values) // 2]

    print(f"{'':10} {'open s':>8} {'open MiB':>9} {'lookup ms':>10} {'flush 10k':>10} "
          f"{'flush ' + str(args.chips // 1000) + 'k':>10} {'plan s':>7} {'peak MiB':>9} {'-model':>7}")
    for name, got in results.items():
        print(f"{name:10} {median(got['open'], 'open_s'):8.3f} {median(got['open'], 'open_mib'):9.1f} "
              f"{median(got['open'], 'lookup_ms'):10.4f} {median(got['flush10000'], 'flush_cpu_s'):10.3f} "
              f"{median(got[f'flush{args.chips}'], 'flush_cpu_s'):10.3f} "
              f"{median(got['raster'], 'plan_cpu_s'):7.2f} {median(got['raster'], 'peak_mib'):9.0f} "
              f"{median(got['raster'], 'peak_without_model_mib'):7.0f}")
    print(f"({args.chips:,}-chip folder; flush: CPU s of a periodic flush after 500 new chips; "
          f"plan: CPU s to plan the {SIDE:,}² VRT; peak: max RSS encoding {args.encode_chips} chips of it "
          "with the demo model; rounds interleaved, medians)")


if __name__ == "__main__":
    main()
