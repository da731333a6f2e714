"""The demo job: generate a scene, encode it, segment every object from one point, score it."""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features
import shapely
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from ..encoder import encode
from ..errors import FolderConflictError, FolderWriteError
from ..models import pick_device
from ..segment import Segmenter, save_results
from ..settings import EncodeSettings
from ..sources import EncodedSource
from ..vector import OutputLayer
from .evaluate import Evaluation, ObjectScore, object_iou, point_prompt
from .scene import Scene, generate_scene

DEMO_MODEL = "demo"
DEMO_SIZE = 2048


@dataclass(frozen=True)
class DemoReport:
    """What `samscape demo` did and how well: mean IoU overall and per class (one point each)."""

    raster: Path
    truth: Path
    folder: Path
    output: Path
    preview: Path
    objects: int
    mean_iou: float
    iou_by_class: dict[str, float]
    count_by_class: dict[str, int]
    seconds: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "mean_iou": round(self.mean_iou, 4), "iou_by_class": self.iou_by_class,
            "count_by_class": self.count_by_class, "objects": self.objects,
            "folder": str(self.folder), "output": str(self.output), "raster": str(self.raster),
            "truth": str(self.truth), "preview": str(self.preview),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }


def run_demo(out: str | os.PathLike, seed: int = 0, size: int = DEMO_SIZE,
             model: str = DEMO_MODEL, device: str = "auto", progress: bool = True) -> DemoReport:
    """Write into `out`: scene.tif, scene_truth.gpkg, features/ (the encoding), objects.gpkg
    (one group per object, segmented from its most interior point) and preview.png."""
    out = Path(out)
    output, folder = out / "objects.gpkg", out / "features"
    for path in (output, folder, out / "scene.tif", out / "scene_truth.gpkg", out / "preview.png"):
        if path.exists():
            raise FolderConflictError(
                f"'{path}' already exists; choose another --out folder or remove it first")
    pick_device(device)  # an unusable device is refused before anything is written
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
        scene = generate_scene(seed, size, size)
        raster, truth = scene.write(out)
    except OSError as exc:
        reason = exc.strerror or str(exc).splitlines()[0]
        raise FolderWriteError(f"cannot write the demo into '{out}': {reason}; choose another --out "
                               "folder") from None
    seconds["scene"] = time.perf_counter() - started
    encode(str(raster), folder, EncodeSettings(model=model, device=device), progress=progress)
    seconds["encode"] = time.perf_counter() - started - seconds["scene"]
    with EncodedSource.open(folder, device=device) as source:
        segmenter = Segmenter(source)
        objects = [o for o in scene.objects if scene.slices[o.object_id - 1]]
        results = segmenter.segment_many([point_prompt(scene, o.object_id) for o in objects],
                                         progress=progress)
        seconds["segment"] = time.perf_counter() - started - sum(seconds.values())
        save_results(OutputLayer(output, scene.grid.crs), results, model, raster.name)
    scores = Evaluation(tuple(
        ObjectScore(o.object_id, o.cls, "point", object_iou(scene, o.object_id, r),
                    len(r.polygons)) for o, r in zip(objects, results, strict=True)))
    preview = write_preview(scene, [p for r in results for p in r.polygons], out / "preview.png")
    seconds["total"] = time.perf_counter() - started
    return DemoReport(raster, truth, folder, output, preview, len(objects), scores.mean_iou(),
                      scores.by_class(), scores.counts(), seconds)


def write_preview(scene: Scene, polygons: list, path: Path, max_side: int = 1024) -> Path:
    """A PNG of the scene with ground-truth outlines in white and segmented outlines in red."""
    step = max(1, -(-max(scene.grid.width, scene.grid.height) // max_side))
    image = scene.image[::step, ::step].copy()
    transform = scene.grid.transform @ Affine.scale(step)
    for geoms, colour in (([o.geometry for o in scene.objects], (255, 255, 255)),
                          (polygons, (230, 30, 30))):
        if not geoms:
            continue
        lines = rasterio.features.rasterize(
            shapely.boundary(np.asarray(geoms, dtype=object)), out_shape=image.shape[:2],
            transform=transform, all_touched=True, fill=0, dtype="uint8").astype(bool)
        image[lines] = colour
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="PNG", width=image.shape[1], height=image.shape[0],
                           count=3, dtype="uint8") as ds:
            ds.write(image.transpose(2, 0, 1))
    return path
