"""How well a model segments a scene's ground-truth objects from one point or one box."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio.features
from affine import Affine
from scipy.ndimage import distance_transform_edt

from ..encoder import encode
from ..geo import Bounds
from ..segment import PromptSet, Segmenter, SegmentResult
from ..settings import EncodeSettings
from ..sources import EncodedSource
from .scene import CLASSES, Scene, generate_scene

PROMPT_KINDS = ("point", "box")


@dataclass(frozen=True, slots=True)
class ObjectScore:
    """The IoU of one object's segmentation with its ground truth (pixels of the scene grid)."""

    object_id: int
    cls: str
    prompt: str
    iou: float
    polygons: int


@dataclass(frozen=True)
class Evaluation:
    scores: tuple[ObjectScore, ...]

    def select(self, prompt: str = "point", cls: str | None = None) -> list[ObjectScore]:
        return [s for s in self.scores if s.prompt == prompt and cls in (None, s.cls)]

    def mean_iou(self, prompt: str = "point", cls: str | None = None) -> float:
        chosen = self.select(prompt, cls)
        return float(np.mean([s.iou for s in chosen])) if chosen else math.nan

    def by_class(self, prompt: str = "point") -> dict[str, float]:
        """Mean IoU per class present, in CLASSES order."""
        present = {s.cls for s in self.select(prompt)}
        return {c: round(self.mean_iou(prompt, c), 4) for c in CLASSES if c in present}

    def counts(self, prompt: str = "point") -> dict[str, int]:
        present = [s.cls for s in self.select(prompt)]
        return {c: present.count(c) for c in CLASSES if c in present}

    def __add__(self, other: Evaluation) -> Evaluation:
        return Evaluation(self.scores + other.scores)


def point_prompt(scene: Scene, object_id: int) -> PromptSet:
    """One foreground point at the object's most interior pixel (farthest from its outline)."""
    (rows, cols), mask = scene.mask(object_id)
    depth = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    r, c = np.unravel_index(int(depth.argmax()), depth.shape)
    x, y = scene.grid.transform @ (cols.start + c + 0.5, rows.start + r + 0.5)
    return PromptSet(scene.grid.crs).add_point(x, y)


def box_prompt(scene: Scene, object_id: int) -> PromptSet:
    """The bounding box of the object's pixels."""
    (rows, cols), _ = scene.mask(object_id)
    x0, y0 = scene.grid.transform @ (cols.start, rows.stop)
    x1, y1 = scene.grid.transform @ (cols.stop, rows.start)
    return PromptSet(scene.grid.crs).with_box(Bounds(x0, y0, x1, y1))


def object_iou(scene: Scene, object_id: int, result: SegmentResult) -> float:
    """IoU of the result's polygons, rasterised on the scene's grid, with the object's pixels."""
    if not result.polygons:
        return 0.0
    (rows, cols), _ = scene.mask(object_id)
    inv = ~scene.grid.transform
    xmin, ymin, xmax, ymax = np.array([p.bounds for p in result.polygons]).T
    (a, b), (c, d) = inv @ (xmin.min(), ymax.max()), inv @ (xmax.max(), ymin.min())
    c0, r0 = max(min(cols.start, math.floor(a)), 0), max(min(rows.start, math.floor(b)), 0)
    c1 = min(max(cols.stop, math.ceil(c)), scene.grid.width)
    r1 = min(max(rows.stop, math.ceil(d)), scene.grid.height)
    truth = scene.labels[r0:r1, c0:c1] == object_id
    predicted = rasterio.features.rasterize(
        result.polygons, out_shape=truth.shape, fill=0, dtype="uint8",
        transform=scene.grid.transform @ Affine.translation(c0, r0)).astype(bool)
    return float((truth & predicted).sum() / max((truth | predicted).sum(), 1))


def evaluate(segmenter: Segmenter, scene: Scene, classes: Sequence[str] = CLASSES,
             prompts: Sequence[str] = PROMPT_KINDS, progress: bool = False) -> Evaluation:
    """Segment every object of `classes` in `scene` from each kind of prompt and score it."""
    chosen = [o for o in scene.objects if o.cls in classes and scene.slices[o.object_id - 1]]
    scores: list[ObjectScore] = []
    for kind in prompts:
        make = point_prompt if kind == "point" else box_prompt
        results = segmenter.segment_many([make(scene, o.object_id) for o in chosen],
                                         progress=progress)
        scores += [ObjectScore(o.object_id, o.cls, kind, object_iou(scene, o.object_id, r),
                               len(r.polygons)) for o, r in zip(chosen, results, strict=True)]
    return Evaluation(tuple(scores))


def evaluate_model(model: str, seeds: Sequence[int], size: int, workdir: str | os.PathLike,
                   classes: Sequence[str] = CLASSES, prompts: Sequence[str] = PROMPT_KINDS,
                   device: str = "auto") -> Evaluation:
    """Score `model` on freshly generated scenes: each is written to `workdir`, encoded with
    the default settings, and its objects segmented from the feature folder."""
    total = Evaluation(())
    for seed in seeds:
        scene = generate_scene(seed, size, size)
        raster, _ = scene.write(Path(workdir), f"scene_{seed}")
        folder = Path(workdir) / f"features_{seed}"
        encode(str(raster), folder, EncodeSettings(model=model, device=device), progress=False)
        with EncodedSource.open(folder, device=device) as source:
            total += evaluate(Segmenter(source), scene, classes, prompts)
    return total
