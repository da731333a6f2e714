"""Prompts in map coordinates: foreground and background points and at most one box."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any

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
        x, y = _number(self.x), _number(self.y)
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            raise PromptError(f"point ({self.x!r}, {self.y!r}) is not a pair of finite numbers")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        if isinstance(self.label, bool) or self.label not in (FOREGROUND, BACKGROUND):
            raise PromptError(f"point label {self.label!r} is not 1 (foreground) or 0 (background)")


def _number(value: object) -> float | None:
    """`value` as a float if it is a real number (not a bool, not text), else None."""
    if isinstance(value, (bool, str, bytes)) or not isinstance(value, (Real, np.number)):
        return None
    return float(value)


def make_box(xmin: float, ymin: float, xmax: float, ymax: float) -> Bounds:
    """A box prompt; PromptError unless finite numbers with xmin < xmax and ymin < ymax."""
    given = (xmin, ymin, xmax, ymax)
    values = [v for v in map(_number, given) if v is not None and math.isfinite(v)]
    if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
        raise PromptError(f"box {','.join(map(str, given))} is not XMIN,YMIN,XMAX,YMAX with "
                          "XMIN < XMAX and YMIN < YMAX")
    return Bounds(*values)


def _box(box: Any) -> Bounds:
    """`box` (four numbers) as a box prompt; PromptError for anything else."""
    try:
        values: tuple = tuple(box)
    except TypeError:
        values = ()
    if len(values) != 4:
        raise PromptError(f"box {box!r} is not four numbers XMIN,YMIN,XMAX,YMAX")
    return make_box(*values)


@dataclass(frozen=True, slots=True)
class PromptSet:
    """The prompts of one object, all in `crs`: points in the order given, and an optional box."""

    crs: CRS
    points: tuple[Point, ...] = ()
    box: Bounds | None = None

    def __post_init__(self) -> None:
        """Any CRS spelling becomes a CRS (SettingsError if unknown), the points a tuple of
        `Point`s, the box a checked `Bounds` (PromptError otherwise)."""
        object.__setattr__(self, "crs", norm_crs(self.crs))
        try:
            points: tuple = tuple(self.points)
        except TypeError:
            points = (self.points,)
        if not all(isinstance(p, Point) for p in points):
            raise PromptError(f"points {self.points!r} are not Point(x, y, label) prompts")
        object.__setattr__(self, "points", points)
        if self.box is not None:
            object.__setattr__(self, "box", _box(self.box))

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
        return replace(self, points=(*self.points, Point(x, y, label)))

    def with_box(self, box: Bounds | None) -> PromptSet:
        return replace(self, box=None if box is None else _box(box))

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
