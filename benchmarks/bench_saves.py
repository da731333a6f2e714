"""Save time against layer size: the 1st object saved to a new layer against the 10 000th.

Per format, the same object (one 80 px disk traced by `mask_to_polygons`, one group) is saved
the way `Session.save` saves it (`save_results`: rows in the layer's CRS with their m², then
`OutputLayer.append`) to a new layer, and to a layer already holding 9 999 objects (each its own
group, the same shape spread over the map). The two are interleaved, repeat by repeat, so a busy
machine slows both alike; the big layer's save is then undone (`remove_group`), which is timed
too and keeps it at 9 999 objects. Formats run one after the other: on ext4 the blocks a big
rewrite frees are discarded at the next journal commit, which another format's fsync would pay.
The first undo of a GeoPackage also indexes its `group_id` (once per layer; in the first repeat).

    python benchmarks/bench_saves.py                  # 7 repeats, 10 000th object
    python benchmarks/bench_segment.py --saves        # the same, from the segment benchmark

Goal: the 10 000th GeoPackage save within 2x of the first.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from rasterio.crs import CRS

FORMATS = (".gpkg", ".parquet", ".fgb", ".shp", ".geojson")
CRS_ = CRS.from_epsg(32633)
SLOW, SLOW_REPEATS = {".geojson"}, 3  # seconds per save at 10 000 objects


def one_object():
    """A SegmentResult of one disk, 80 px across at 0.5 m, as the segmenter would return it."""
    from samscape.geo import Window
    from samscape.segment import PromptSet
    from samscape.segment.segmenter import SegmentResult
    from samscape.vector import VectorOptions, mask_to_polygons

    yy, xx = np.mgrid[0:128, 0:128]
    mask = (xx - 64) ** 2 + (yy - 64) ** 2 < 40 ** 2
    transform = Affine(0.5, 0, 500000, 0, -0.5, 4000000)
    polygons = tuple(mask_to_polygons(mask, transform, VectorOptions()))
    return SegmentResult(PromptSet(CRS_).add_point(500032.0, 3999968.0), Window(0, 0, 128, 128), mask,
                         transform, CRS_, polygons, 0.93, (0,))


def prefilled(path: Path, result, objects: int):
    """A layer at `path` holding `objects` groups of `result`'s rows, each moved 100 m further."""
    from samscape.segment.session import group_rows, new_ulid
    from samscape.vector import OutputLayer

    layer = OutputLayer(path, CRS_)
    template = group_rows(result, CRS_, "demo", "bench.tif").rows
    layer.append([replace(r, group_id=new_ulid(), geometry=shapely.affinity.translate(
        r.geometry, 100.0 * (i % 100), -100.0 * (i // 100))) for i in range(objects) for r in template])
    return layer


def main(objects: int = 10_000, repeats: int = 7, formats: tuple[str, ...] = FORMATS) -> None:
    from samscape.segment.session import save_results
    from samscape.vector import OutputLayer

    result = one_object()
    print(f"\nsave time, 1st object vs the {objects}th ({len(result.polygons)} polygon of "
          f"{len(result.polygons[0].exterior.coords)} vertices; p50 over repeats, 1st and "
          f"{objects}th interleaved)")
    print(f"  {'format':<9} {'1st':>9} {f'{objects}th':>9} {'ratio':>7} {'undo':>9}  repeats")
    for f in formats:  # one format at a time: a big rewrite's freed blocks slow the next fsync
        times: dict[str, list[float]] = {"first": [], "nth": [], "undo": []}
        count = min(repeats, SLOW_REPEATS) if f in SLOW else repeats
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            big = prefilled(folder / f"big{f}", result, objects - 1)
            for repeat in range(count):
                new = OutputLayer(folder / f"new{repeat}{f}", CRS_)
                start = time.perf_counter()
                save_results(new, [result], "demo", "bench.tif")
                times["first"].append(time.perf_counter() - start)
                start = time.perf_counter()
                groups = save_results(big, [result], "demo", "bench.tif")
                times["nth"].append(time.perf_counter() - start)
                start = time.perf_counter()
                big.remove_group(groups[0].group_id)
                times["undo"].append(time.perf_counter() - start)
        first, nth, undo = (statistics.median(times[k]) * 1000 for k in ("first", "nth", "undo"))
        print(f"  {f:<9} {first:7.1f}ms {nth:7.1f}ms {nth / first:6.2f}x {undo:7.1f}ms  {count}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="the object timed in the big layer")
    parser.add_argument("--repeats", type=int, default=7, help="per format (GeoJSON: at most 3)")
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    args = parser.parse_args()
    main(args.objects, args.repeats, tuple(args.formats))
