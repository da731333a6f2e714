"""Prompts → one object: chip choice, decoding, continuation across chips, polygons."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from affine import Affine
from rasterio.crs import CRS
from scipy.ndimage import distance_transform_edt, label
from shapely.geometry import Polygon
from tqdm.auto import tqdm

from ..errors import PromptError, SettingsError
from ..geo import Chip, Window, crs_label
from ..geo.crs import plain_number
from ..sources import FeatureSource
from ..threads import scoped
from ..vector import VectorOptions, mask_to_polygons
from .mosaic import ChipMask, merge
from .placement import DEFAULT_MAX_CHIPS, ChipPrompts, PixelPrompts, in_chip, seed_chips
from .prompts import PromptSet


@dataclass(frozen=True)
class SegmentResult:
    """One object: its mask over `window` of the source's grid, its polygons (source CRS,
    largest first), the predicted IoU, the chips it was decoded in (first = seed), and whether it
    went on past the last of them (`cut_off`: the segmenter's `max_chips` was reached)."""

    prompts: PromptSet
    window: Window
    mask: np.ndarray
    transform: Affine
    crs: CRS
    polygons: tuple[Polygon, ...]
    score: float
    chip_ids: tuple[int, ...]
    cut_off: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.polygons

    def traced(self, vector: VectorOptions) -> SegmentResult:
        """The same mask with its polygons traced again with `vector`."""
        return replace(self, polygons=tuple(mask_to_polygons(self.mask, self.transform, vector, self.crs)))


@dataclass(frozen=True)
class _Task:
    prompts: ChipPrompts
    reference: tuple[Window, np.ndarray] | None = None


class Segmenter:
    """Segments objects in a `FeatureSource`: only the model's light decoder runs.

    max_chips: how many chips one object may be decoded in (continuation across chip edges);
    vector: how masks become polygons.
    """

    def __init__(self, source: FeatureSource, vector: VectorOptions | None = None,
                 max_chips: int = DEFAULT_MAX_CHIPS) -> None:
        if not isinstance(source, FeatureSource):
            raise SettingsError(f"a Segmenter takes an open source, not {type(source).__name__}: "
                                "give samscape.open_source(PATH)")
        if not isinstance(vector, (VectorOptions, type(None))):
            raise SettingsError(f"vector must be VectorOptions(...), not {type(vector).__name__}")
        if isinstance(max_chips, bool) or not isinstance(max_chips, int) or max_chips < 1:
            raise SettingsError(f"max chips must be a whole number, at least 1, got {max_chips!r}")
        self.source = source
        self.vector = vector or VectorOptions()
        self.max_chips = max_chips

    def locate(self, prompts: PromptSet) -> tuple[PixelPrompts, list[Chip]]:
        """The prompts in grid pixels and the chips the object starts from; PromptError if a
        prompt is outside the source or on a part of it that has no features."""
        if prompts.is_empty:
            raise PromptError("give at least one foreground point or a box")
        source = self.source
        pixels = PixelPrompts.from_prompts(prompts.to_crs(source.crs), source.grid)
        if pixels.outside(source.grid.width, source.grid.height):
            fix = ("the coordinates look like latitude, longitude; give longitude, latitude (x, y)"
                   if prompts.crs.is_geographic and self._inside(prompts.swapped()) else
                   "give prompts inside it, and the CRS of their coordinates if it is another (--crs)")
            raise PromptError(f"a prompt lies outside the source; its extent is "
                              f"{source.extent_in(prompts.crs)}: {fix}")
        while True:  # a live source learns which chips are all nodata only when it reads them
            seeds, uncovered = seed_chips(pixels, source.chips, source.has_chip)
            source.prepare([c.chip_id for c in seeds])
            if all(source.has_chip(c.chip_id) for c in seeds):
                break
        if not seeds or len(uncovered):
            x, y = source.grid.transform @ tuple(uncovered[0] if len(uncovered) else pixels.bounds()[:2])
            meta = source.metadata
            complete = source.mode == "live" or \
                len(source.encoded_ids()) + len(meta.skipped_chip_ids) >= meta.grid_chip_count
            why = ("that part of the source is nodata (no chip there holds features); prompt where the "
                   "raster has data") if complete else ("that part of the source is nodata or was not "
                   "encoded; run 'samscape encode' to complete the folder")
            raise PromptError(f"no encoded chip covers the prompt at {plain_number(x)}, {plain_number(y)} "
                              f"({crs_label(source.crs)}): {why}")
        return pixels, seeds

    def _inside(self, prompts: PromptSet) -> bool:
        """Whether all of `prompts` lie on the source's grid (False if they cannot be transformed)."""
        grid = self.source.grid
        try:
            pixels = PixelPrompts.from_prompts(prompts.to_crs(self.source.crs), grid)
        except PromptError:
            return False
        return not pixels.outside(grid.width, grid.height)

    def segment(self, prompts: PromptSet) -> SegmentResult:
        """One object from `prompts`: decoded in the chip(s) they fall in, continued into
        neighbouring chips as far as the object goes (up to `max_chips`), traced into polygons in
        the source's CRS. Runs on the thread policy's interactive count (`threads.scoped`)."""
        with scoped("interactive"):
            return self._segment(prompts)

    def _segment(self, prompts: PromptSet) -> SegmentResult:
        pixels, seeds = self.locate(prompts)
        source = self.source
        queue = deque(_Task(p) for c in seeds if (p := in_chip(pixels, c)) is not None)
        seen = {task.prompts.chip.chip_id for task in queue}
        parts: list[ChipMask] = []
        while queue and len(parts) < self.max_chips:
            source.prepare([t.prompts.chip.chip_id for t in list(queue)[:self.max_chips - len(parts)]])
            task = queue.popleft()
            part = self._decode(task)
            if part is None:
                continue
            parts.append(part)
            if len(parts) == self.max_chips:
                break
            for neighbour, carried in _continuations(part, source, seen):
                chip_prompts = in_chip(pixels, neighbour, carried[0])
                if chip_prompts is not None:
                    seen.add(neighbour.chip_id)
                    queue.append(_Task(chip_prompts, carried[1]))
        cut_off = bool(queue) or (len(parts) == self.max_chips
                                  and bool(_continuations(parts[-1], source, seen)))
        if not parts:
            window, score = seeds[0].window, 0.0
            mask = np.zeros((window.height, window.width), bool)
        else:
            window, mask, score = merge(parts, source.grid)
        transform = source.grid.transform @ Affine.translation(window.col_off, window.row_off)
        polygons = mask_to_polygons(mask, transform, self.vector, source.crs)
        return SegmentResult(prompts.to_crs(source.crs), window, mask, transform, source.crs,
                             tuple(polygons), score, tuple(p.chip.chip_id for p in parts), cut_off)

    def placeable(self, objects: Sequence[PromptSet]) -> tuple[list[PromptSet], list[str]]:
        """The objects whose prompts all lie on encoded chips, and why each other one is not
        ("object N of M: …"), for a caller that segments the others rather than none."""
        kept, problems = [], []
        for number, prompts in enumerate(objects, 1):
            try:
                self.locate(prompts)
            except PromptError as exc:
                problems.append(f"object {number} of {len(objects)}: {exc}")
            else:
                kept.append(prompts)
        return kept, problems

    def segment_many(self, objects: Sequence[PromptSet], progress: bool = False
                     ) -> list[SegmentResult]:
        """One result per prompt set, in order. All prompts are checked before any decoding;
        objects are processed grouped by their first chip, so each chip is loaded once."""
        seeds = []
        for number, prompts in enumerate(objects, 1):
            try:
                seeds.append(self.locate(prompts)[1][0].chip_id)
            except PromptError as exc:
                raise (PromptError(f"object {number} of {len(objects)}: {exc}") if len(objects) > 1
                       else exc) from None
        results: dict[int, SegmentResult] = {}
        order = sorted(range(len(objects)), key=seeds.__getitem__)
        for i in tqdm(order, unit="object", desc="segmenting", disable=not progress,
                      dynamic_ncols=True):
            results[i] = self.segment(objects[i])
        return [results[i] for i in range(len(objects))]

    def _decode(self, task: _Task) -> ChipMask | None:
        p = task.prompts
        chip = p.chip
        source = self.source
        features = source.decoder_input(chip.chip_id)
        if features is None:
            return None
        shape = (chip.window.height, chip.window.width)
        multimask = p.single_point or task.reference is not None
        low_res, iou = source.decode_low_res(
            features, shape,
            torch.from_numpy(p.points) if len(p.points) else None,
            torch.from_numpy(p.labels) if len(p.labels) else None,
            None if p.box is None else torch.from_numpy(p.box),
            multimask,
        )
        if task.reference is None:
            best = int(iou.argmax())
            mask = source.upscale(low_res[best:best + 1], shape)[0].numpy() > 0
            if p.single_point:
                col, row = np.clip(np.floor(p.points[0] + 0.5).astype(int), 0, np.array(shape[::-1]) - 1)
                if mask[row, col]:  # a point the decoder left out says nothing about the parts
                    mask = _component_at(mask, row, col)
            if p.box is not None:
                mask = _in_box(mask, p.box)
        else:
            masks = source.upscale(low_res, shape).numpy() > 0
            best = _most_consistent(masks, chip.window, *task.reference, iou.numpy())
            overlap, previous = task.reference
            anchor = np.zeros(shape, bool)
            anchor[_rows_cols(overlap, chip.window)] = previous
            mask = _connected(masks[best], anchor)
        return ChipMask(chip, mask, float(iou[best]))


def _most_consistent(masks: np.ndarray, window: Window, overlap: Window, previous: np.ndarray,
                     iou: np.ndarray) -> int:
    """The candidate (M, H, W) that best agrees with the neighbour's mask in their overlap."""
    rows, cols = _rows_cols(overlap, window)
    inter = (masks[:, rows, cols] & previous).sum(axis=(1, 2))
    union = (masks[:, rows, cols] | previous).sum(axis=(1, 2))
    agreement = inter / np.maximum(union, 1)
    return int(np.lexsort((iou, agreement))[-1])


def _rows_cols(inner: Window, outer: Window) -> tuple[slice, slice]:
    """`inner`'s rows and columns in the pixel indices of `outer`, which contains it."""
    r, c = inner.row_off - outer.row_off, inner.col_off - outer.col_off
    return slice(r, r + inner.height), slice(c, c + inner.width)


def _connected(mask: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """The connected parts of `mask` (H, W) that meet `anchor` (H, W): whatever else the decoder
    found there is another object."""
    components, _ = label(mask)
    return np.isin(components, np.unique(components[anchor & mask]))


def _component_at(mask: np.ndarray, row: int, col: int) -> np.ndarray:
    """The 4-connected part of `mask` (H, W) holding pixel (row, col), which is True; labelled over
    the mask's bounding box only, so a small object on a large chip costs little."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    components, count = label(mask[r0:r1, c0:c1])
    if count == 1:
        return mask
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = components == components[row - r0, col - c0]
    return out


def _in_box(mask: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The connected parts of `mask` (H, W) that lie mostly inside `box` (XYXY, chip pixel
    indices), and always the part the box holds most of: a part mostly outside is a neighbour."""
    components, count = label(mask)
    if count <= 1:
        return mask
    x0, y0 = np.ceil(box[:2]).astype(int).clip(0)
    x1, y1 = np.floor(box[2:]).astype(int) + 1
    total = np.bincount(components.ravel(), minlength=count + 1)
    held = np.bincount(components[y0:y1, x0:x1].ravel(), minlength=count + 1)
    keep = 2 * held > total
    keep[int(held[1:].argmax()) + 1] = True
    keep[0] = False
    return keep[components]


def _continuations(part: ChipMask, source: FeatureSource, seen: set[int]
                   ) -> list[tuple[Chip, tuple[np.ndarray, tuple[Window, np.ndarray]]]]:
    """Neighbouring chips the object continues into: where the mask touches an edge of its chip
    that is not the grid's edge, leaving out the chips in `seen`. For each, a point carried over
    (grid pixel XY, the mask pixel in the overlap farthest from the mask's and the overlap's
    borders) and the mask in the overlap."""
    mask, w, grid = part.mask, part.chip.window, source.grid
    c1, r1 = w.col_off + w.width, w.row_off + w.height
    strips = []  # (col0, row0, col1, row1) of touching pixels, and whether a chip must pass it
    for touching, beyond, rect in (
        (mask[:, 0], w.col_off > 0, lambda a, b: (w.col_off, w.row_off + a, w.col_off + 1, w.row_off + b)),
        (mask[:, -1], c1 < grid.width, lambda a, b: (c1 - 1, w.row_off + a, c1, w.row_off + b)),
        (mask[0, :], w.row_off > 0, lambda a, b: (w.col_off + a, w.row_off, w.col_off + b, w.row_off + 1)),
        (mask[-1, :], r1 < grid.height, lambda a, b: (w.col_off + a, r1 - 1, w.col_off + b, r1)),
    ):
        hits = np.flatnonzero(touching)
        if beyond and len(hits):
            strips.append(rect(hits[0], hits[-1] + 1))
    found: dict[int, Chip] = {}
    for col0, row0, col1, row1 in strips:
        for chip in source.chips.intersecting(col0, row0, col1, row1):
            n = chip.window
            reaches = (n.col_off < w.col_off or n.col_off + n.width > c1
                       or n.row_off < w.row_off or n.row_off + n.height > r1)
            if (reaches and chip.chip_id != part.chip.chip_id and chip.chip_id not in seen
                    and source.has_chip(chip.chip_id)):
                found[chip.chip_id] = chip
    out = []
    for chip in found.values():
        n = chip.window
        oc0, or0 = max(n.col_off, w.col_off), max(n.row_off, w.row_off)
        oc1, or1 = min(n.col_off + n.width, c1), min(n.row_off + n.height, r1)
        overlap = Window(oc0, or0, oc1 - oc0, or1 - or0)
        inside = mask[or0 - w.row_off:or1 - w.row_off, oc0 - w.col_off:oc1 - w.col_off]
        if not inside.any():
            continue
        depth = distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
        row, col = np.unravel_index(int(depth.argmax()), depth.shape)
        point = np.array([[oc0 + col + 0.5, or0 + row + 0.5]])
        out.append((chip, (point, (overlap, inside))))
    return out
