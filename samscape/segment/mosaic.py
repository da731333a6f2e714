"""Per-chip masks merged in grid space into one mask without seams."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geo import Chip, PixelGrid, Window


@dataclass(frozen=True)
class ChipMask:
    """One chip's binary mask (H, W) and the model's predicted IoU for it."""

    chip: Chip
    mask: np.ndarray
    score: float


def centrality(chip: Chip, grid: PixelGrid) -> np.ndarray:
    """(H, W) distance of each pixel centre to the nearest chip edge that is not also the grid's
    edge: how far from a cut the chip saw that pixel."""
    w = chip.window
    inf = np.inf
    cols = np.arange(w.width) + 0.5
    rows = np.arange(w.height) + 0.5
    left = cols if w.col_off > 0 else np.full(w.width, inf)
    right = w.width - cols if w.col_off + w.width < grid.width else np.full(w.width, inf)
    top = rows if w.row_off > 0 else np.full(w.height, inf)
    bottom = w.height - rows if w.row_off + w.height < grid.height else np.full(w.height, inf)
    return np.minimum.outer(np.minimum(top, bottom), np.minimum(left, right)).astype(np.float32)


def merge(parts: list[ChipMask], grid: PixelGrid) -> tuple[Window, np.ndarray, float]:
    """One mask over the union window of the parts' chips: each pixel from the chip where it is
    most central. Returns (window, mask (H, W), score: the parts' scores weighted by the object
    pixels each contributes)."""
    if len(parts) == 1:
        part = parts[0]
        return part.chip.window, part.mask, part.score
    windows = [p.chip.window for p in parts]
    c0 = min(w.col_off for w in windows)
    r0 = min(w.row_off for w in windows)
    c1 = max(w.col_off + w.width for w in windows)
    r1 = max(w.row_off + w.height for w in windows)
    best = np.full((r1 - r0, c1 - c0), -1.0, dtype=np.float32)
    owner = np.full(best.shape, -1, dtype=np.int16)
    mask = np.zeros(best.shape, dtype=bool)
    for i, part in enumerate(parts):
        w = part.chip.window
        region = (slice(w.row_off - r0, w.row_off - r0 + w.height),
                  slice(w.col_off - c0, w.col_off - c0 + w.width))
        central = centrality(part.chip, grid)
        wins = central > best[region]
        best[region][wins] = central[wins]
        owner[region][wins] = i
        mask[region][wins] = part.mask[wins]
    counts = np.bincount(owner[mask], minlength=len(parts))
    scores = np.array([p.score for p in parts])
    score = float((counts * scores).sum() / counts.sum()) if counts.sum() else float(scores[0])
    return Window(c0, r0, c1 - c0, r1 - r0), mask, score
