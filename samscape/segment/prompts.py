"""Prompts in map coordinates: foreground and background points and at most one box."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from pyproj.exceptions import ProjError
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS

from ..errors import PromptError
from ..geo import Bounds, crs_label, crs_transformer, norm_crs, transform_bounds

FOREGROUND, BACKGROUND = 1, 0


@dataclass(frozen=True, slots=True)
class Point:
    """A point prompt: map coordinates and label (1 foreground, 0 background)."""

    x: float
    y: float
    label: int = FOREGROUND

    def __post_init__(self) -> None:
        if not (math.isfinite(self.x) and math.isfinite(self.y)):
            raise PromptError(f"point ({self.x}, {self.y}) is not a pair of finite numbers")
        if self.label not in (FOREGROUND, BACKGROUND):
            raise PromptError(f"point label {self.label!r} is not 1 (foreground) or 0 (background)")


def make_box(xmin: float, ymin: float, xmax: float, ymax: float) -> Bounds:
    """A box prompt; PromptError unless finite with xmin < xmax and ymin < ymax."""
    values = (xmin, ymin, xmax, ymax)
    if not all(math.isfinite(v) for v in values) or xmin >= xmax or ymin >= ymax:
        raise PromptError(f"box {','.join(map(str, values))} is not XMIN,YMIN,XMAX,YMAX with "
                          "XMIN < XMAX and YMIN < YMAX")
    return Bounds(*map(float, values))


@dataclass(frozen=True, slots=True)
class PromptSet:
    """The prompts of one object, all in `crs`: points in the order given, and an optional box."""

    crs: CRS
    points: tuple[Point, ...] = ()
    box: Bounds | None = None

    @property
    def fg_count(self) -> int:
        return sum(p.label == FOREGROUND for p in self.points)

    @property
    def bg_count(self) -> int:
        return len(self.points) - self.fg_count

    @property
    def is_empty(self) -> bool:
        """True when nothing marks the object: no foreground point and no box."""
        return self.fg_count == 0 and self.box is None

    def add_point(self, x: float, y: float, label: int = FOREGROUND) -> PromptSet:
        return replace(self, points=(*self.points, Point(float(x), float(y), label)))

    def with_box(self, box: Bounds | None) -> PromptSet:
        return replace(self, box=None if box is None else make_box(*box))

    def swapped(self) -> PromptSet:
        """The same prompts with x and y exchanged (lat, lon read as lon, lat)."""
        points = tuple(Point(p.y, p.x, p.label) for p in self.points)
        box = None if self.box is None else make_box(self.box[1], self.box[0], self.box[3], self.box[2])
        return PromptSet(self.crs, points, box)

    def to_crs(self, crs: CRS) -> PromptSet:
        """The same prompts in `crs`: points exactly, the box as the bounds of its reprojection."""
        crs = norm_crs(crs)
        if crs == self.crs:
            return self
        points = self.points
        try:
            if points:
                xs, ys = crs_transformer(self.crs, crs).transform(
                    np.array([p.x for p in points]), np.array([p.y for p in points]), errcheck=True)
                points = tuple(Point(float(x), float(y), p.label)
                               for x, y, p in zip(xs, ys, points, strict=True))
            box = transform_bounds(self.box, self.crs, crs) if self.box else None
        except (CPLE_BaseError, ProjError, PromptError) as exc:
            raise PromptError(
                f"the prompts cannot be transformed from {crs_label(self.crs)} to "
                f"{crs_label(crs)} ({exc}); check that they are written in {crs_label(self.crs)}"
            ) from None
        return PromptSet(crs, points, box)
