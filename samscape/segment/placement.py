"""Prompts in the processing grid's pixel space, and which chips they go to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..geo import Chip, ChipGrid, PixelGrid, Window
from .prompts import FOREGROUND, PromptSet

DEFAULT_MAX_CHIPS = 9  # the chips one object may be decoded in, following it across chip edges


@dataclass(frozen=True)
class PixelPrompts:
    """Prompts in grid pixel space: x = column, y = row, continuous (pixel i spans [i, i + 1)).

    points: (N, 2) XY; labels: (N,) 1/0; box: (4,) XYXY or None.
    """

    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None

    @classmethod
    def from_prompts(cls, prompts: PromptSet, grid: PixelGrid) -> PixelPrompts:
        """`prompts` must be in the grid's CRS."""
        inverse = ~grid.transform
        points = np.array([inverse @ (p.x, p.y) for p in prompts.points], dtype=float).reshape(-1, 2)
        labels = np.array([p.label for p in prompts.points], dtype=np.int64)
        box = None
        if prompts.box is not None:
            xmin, ymin, xmax, ymax = prompts.box
            corners = np.array([inverse @ xy for xy in ((xmin, ymin), (xmax, ymax))])
            box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
        return cls(points, labels, box)

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the points and the box."""
        xy = self.points if self.box is None else np.vstack([self.points, self.box.reshape(2, 2)])
        return (*xy.min(axis=0), *xy.max(axis=0))

    def outside(self, width: int, height: int) -> bool:
        """True if a point lies outside [0, width) × [0, height), or the box misses it."""
        p = self.points
        if len(p) and ((p < 0).any() or (p[:, 0] >= width).any() or (p[:, 1] >= height).any()):
            return True
        b = self.box
        return b is not None and (b[2] <= 0 or b[3] <= 0 or b[0] >= width or b[1] >= height)

    def anchors(self) -> np.ndarray:
        """(K, 2) positions that a set of chips must cover: the foreground points and the box's
        centre (clipped to the grid later by the chip search). The rest of a box larger than a
        chip is reached by continuation, as far as the object goes."""
        xy = [self.points[self.labels == FOREGROUND]]
        if self.box is not None:
            x0, y0, x1, y1 = self.box
            xy.append(np.array([[(x0 + x1) / 2, (y0 + y1) / 2]]))
        return np.vstack(xy)


@dataclass(frozen=True)
class ChipPrompts:
    """Prompts of one chip, in its pixel indices (SAM's convention): points (N, 2) XY, labels (N,),
    box (4,) XYXY or None."""

    chip: Chip
    points: np.ndarray
    labels: np.ndarray
    box: np.ndarray | None

    @property
    def single_point(self) -> bool:
        return len(self.points) == 1 and self.box is None


def in_chip(prompts: PixelPrompts, chip: Chip, extra: np.ndarray | None = None) -> ChipPrompts | None:
    """The prompts that fall in `chip` (the box clipped to it), plus `extra` foreground points
    (grid pixel XY); None when nothing in the chip marks an object."""
    w = chip.window
    origin = np.array([w.col_off, w.row_off], dtype=float)
    points, labels = prompts.points, prompts.labels
    inside = _inside(points, w)
    points, labels = points[inside], labels[inside]
    if extra is not None and len(extra):
        points = np.vstack([points, extra])
        labels = np.concatenate([labels, np.full(len(extra), FOREGROUND)])
    box = None
    if prompts.box is not None:
        x0, y0 = np.maximum(prompts.box[:2], origin)
        x1, y1 = np.minimum(prompts.box[2:], origin + (w.width, w.height))
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            box = np.array([x0, y0, x1, y1]) - np.concatenate([origin, origin]) - 0.5
    if box is None and not (labels == FOREGROUND).any():
        return None
    return ChipPrompts(chip, points - origin - 0.5, labels, box)


def _inside(xy: np.ndarray, w: Window) -> np.ndarray:
    return ((xy[:, 0] >= w.col_off) & (xy[:, 0] < w.col_off + w.width)
            & (xy[:, 1] >= w.row_off) & (xy[:, 1] < w.row_off + w.height))


def margin(chip: Chip, xmin: float, ymin: float, xmax: float, ymax: float) -> float:
    """Distance in pixels from a rectangle to the nearest edge of the chip that contains it."""
    w = chip.window
    return min(xmin - w.col_off, ymin - w.row_off, w.col_off + w.width - xmax,
               w.row_off + w.height - ymax)


def _cover_score(chip: Chip, anchors: np.ndarray) -> tuple[int, float]:
    inside = anchors[_inside(anchors, chip.window)]
    return len(inside), margin(chip, *inside.min(axis=0), *inside.max(axis=0))


def _needed(prompts: PixelPrompts, width: int, height: int) -> tuple[float, float, float, float]:
    """The pixel rectangle a chip must contain to hold every prompt: whole pixels under the
    points, the box as far as it lies in the grid."""
    rects = []
    if len(prompts.points):
        pixels = np.floor(prompts.points)
        rects.append(np.concatenate([pixels.min(axis=0), pixels.max(axis=0) + 1]))
    if prompts.box is not None:
        rects.append(np.clip(prompts.box, 0, [width, height, width, height]))
    stacked = np.array(rects)
    return (*stacked[:, :2].min(axis=0), *stacked[:, 2:].max(axis=0))


def seed_chips(prompts: PixelPrompts, chips: ChipGrid, has_chip: Callable[[int], bool]
               ) -> tuple[list[Chip], np.ndarray]:
    """The chips an object starts from, and the anchors (K, 2) that no chip covers.

    The chip that contains all prompts with the widest margin to its edges, if there is one;
    otherwise a greedy cover of the anchors (foreground points, box centre): each
    time the chip containing most uncovered anchors, the widest margin breaking ties.
    """
    g = chips.grid
    bounds = _needed(prompts, g.width, g.height)
    whole = [c for c in chips.containing(*bounds) if has_chip(c.chip_id)]
    if whole:
        return [max(whole, key=lambda c: margin(c, *bounds))], np.empty((0, 2))
    anchors = np.clip(prompts.anchors(), 0, [g.width - 1e-6, g.height - 1e-6])
    seeds: list[Chip] = []
    while len(anchors):
        pixels = np.floor(anchors)
        candidates = {c.chip_id: c for x, y in pixels for c in chips.containing(x, y, x + 1, y + 1)
                      if has_chip(c.chip_id)}
        if not candidates:
            break
        best = max(candidates.values(), key=lambda chip: _cover_score(chip, anchors))
        seeds.append(best)
        anchors = anchors[~_inside(anchors, best.window)]
    return seeds, anchors
