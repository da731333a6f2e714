"""The chip grid: how a processing grid is cut into model-sized chips."""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from affine import Affine
from shapely.geometry import Polygon

from .grid import MAX_SIDE, PixelGrid, Window

MAX_CHIPS = 1_000_000
"""Most chips in one chip grid: an encoding, a feature folder, a plan (checked before building)."""
__all__ = ["MAX_CHIPS", "MAX_SIDE", "Chip", "ChipGrid", "chip_count", "chip_offsets"]


def chip_offsets(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of chips of `size` pixels, `stride` apart, along an axis of `length` pixels.

    Edge policy: chips start at 0, `stride`, 2·`stride`, ...; the last chip is shifted back so it
    ends exactly at `length`, so no chip needs padding. If `length` <= `size` there is a single
    chip at 0, `length` pixels long.
    """
    if length <= 0 or size <= 0 or stride <= 0:
        raise ValueError(f"length, size and stride must be positive, got {length}, {size}, {stride}")
    if length <= size:
        return [0]
    count = chip_count(length, size, stride)
    return [i * stride for i in range(count - 1)] + [length - size]


def chip_count(length: int, size: int, stride: int) -> int:
    """How many chips `chip_offsets` makes along an axis, in O(1): the grid can be sized before
    anything proportional to it is built."""
    if length <= 0 or size <= 0 or stride <= 0:
        raise ValueError(f"length, size and stride must be positive, got {length}, {size}, {stride}")
    return 1 if length <= size else math.ceil((length - size) / stride) + 1


@dataclass(frozen=True, slots=True)
class Chip:
    """One chip: its id (row-major), grid position, pixel window, and its own pixel grid."""

    chip_id: int
    row: int
    col: int
    window: Window
    grid: PixelGrid

    @property
    def transform(self) -> Affine:
        return self.grid.transform

    @property
    def footprint(self) -> Polygon:
        return self.grid.footprint


@dataclass(frozen=True, slots=True)
class ChipGrid:
    """`grid` cut into chips of `size`×`size` pixels, `stride` pixels apart (see `chip_offsets`)."""

    grid: PixelGrid
    size: int
    stride: int

    def __post_init__(self) -> None:
        if not 0 < self.stride <= self.size:
            raise ValueError(f"stride must be in 1..{self.size} (the chip size), got {self.stride}")

    @property
    def col_offsets(self) -> list[int]:
        return chip_offsets(self.grid.width, self.size, self.stride)

    @property
    def row_offsets(self) -> list[int]:
        return chip_offsets(self.grid.height, self.size, self.stride)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of chips, computed without listing them."""
        return (chip_count(self.grid.height, self.size, self.stride),
                chip_count(self.grid.width, self.size, self.stride))

    def __len__(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def __iter__(self) -> Iterator[Chip]:
        cols = self.col_offsets
        for r, row_off in enumerate(self.row_offsets):
            for c, col_off in enumerate(cols):
                yield self._chip(r * len(cols) + c, r, c, row_off, col_off)

    def chip(self, chip_id: int) -> Chip:
        rows, cols = self.shape
        if not 0 <= chip_id < rows * cols:
            raise IndexError(f"chip {chip_id} is not in this grid of {rows * cols} chips")
        r, c = divmod(chip_id, cols)
        return self._chip(chip_id, r, c, _offset(r, rows, self.grid.height, self.size, self.stride),
                          _offset(c, cols, self.grid.width, self.size, self.stride))

    def _chip(self, chip_id: int, row: int, col: int, row_off: int, col_off: int) -> Chip:
        width, height = min(self.size, self.grid.width), min(self.size, self.grid.height)
        window = Window(col_off, row_off, width, height)
        return Chip(chip_id, row, col, window, self.grid.window(window))

    def containing(self, col0: float, row0: float, col1: float, row1: float) -> list[Chip]:
        """Chips whose windows contain the pixel rectangle [col0, col1] × [row0, row1] (floats in
        the grid's pixel space). The grid is its own spatial index: O(log n) per axis."""
        cols = _along(self._offsets(self.grid.width), min(self.size, self.grid.width), col0, col1, True)
        rows = _along(self._offsets(self.grid.height), min(self.size, self.grid.height), row0, row1, True)
        return self._chips(rows, cols)

    def intersecting(self, col0: float, row0: float, col1: float, row1: float) -> list[Chip]:
        """Chips whose windows overlap the open pixel rectangle (col0, col1) × (row0, row1)."""
        cols = _along(self._offsets(self.grid.width), min(self.size, self.grid.width), col0, col1, False)
        rows = _along(self._offsets(self.grid.height), min(self.size, self.grid.height), row0, row1, False)
        return self._chips(rows, cols)

    def _offsets(self, length: int) -> _Offsets:
        return _Offsets(length, self.size, self.stride)

    def _chips(self, rows: range, cols: range) -> list[Chip]:
        row_offsets, col_offsets = self._offsets(self.grid.height), self._offsets(self.grid.width)
        n = len(col_offsets)
        return [self._chip(r * n + c, r, c, row_offsets[r], col_offsets[c]) for r in rows for c in cols]


class _Offsets(Sequence[int]):
    """`chip_offsets(length, size, stride)` without the list: each computed when indexed, so a
    binary search over a million chips costs O(log n), not a list of them."""

    def __init__(self, length: int, size: int, stride: int) -> None:
        self.length, self.size, self.stride = length, size, stride
        self.n = chip_count(length, size, stride)

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.n))]
        if not 0 <= index < self.n:
            raise IndexError(index)
        return _offset(index, self.n, self.length, self.size, self.stride)


def _offset(index: int, count: int, length: int, size: int, stride: int) -> int:
    """`chip_offsets(length, size, stride)[index]` without the list (`count` is its length)."""
    if length <= size:
        return 0
    return index * stride if index < count - 1 else length - size


def _along(offsets: Sequence[int], length: int, a: float, b: float, inside: bool) -> range:
    """Indices of the chips along one axis (starting at `offsets`, `length` long) that contain
    [a, b] (`inside`) or overlap (a, b)."""
    if inside:
        return range(bisect.bisect_left(offsets, b - length), bisect.bisect_right(offsets, a))
    return range(bisect.bisect_right(offsets, a - length), bisect.bisect_left(offsets, b))
