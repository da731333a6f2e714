"""Pixel grids: a raster's shape, affine transform and CRS as one immutable value."""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import calculate_default_transform
from shapely.geometry import Polygon, box

from ..errors import ExtentError, SettingsError
from .crs import Bounds, transform_bounds


@dataclass(frozen=True, slots=True)
class Window:
    """A pixel window: column/row offset of the top-left pixel, and size in pixels."""

    col_off: int
    row_off: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"window size must be positive, got {self.width}x{self.height}")


@dataclass(frozen=True, slots=True)
class PixelGrid:
    """`height` rows by `width` columns of pixels; `transform` maps (col, row) to map (x, y) in `crs`.

    Only north-up grids (no rotation) are used for processing; the transform's `e` is negative.
    """

    width: int
    height: int
    transform: Affine
    crs: CRS

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"grid size must be positive, got {self.width}x{self.height}")

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size (x, y) in map units, both positive."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def bounds(self) -> Bounds:
        """(xmin, ymin, xmax, ymax) in map units."""
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (self.width, self.height)
        return Bounds(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    @property
    def footprint(self) -> Polygon:
        return box(*self.bounds)

    def window(self, window: Window) -> PixelGrid:
        """The sub-grid covering `window` (which may extend past this grid)."""
        return PixelGrid(
            window.width,
            window.height,
            self.transform @ Affine.translation(window.col_off, window.row_off),
            self.crs,
        )

    def offset_in(self, parent: PixelGrid) -> Window | None:
        """This grid as a whole-pixel window of `parent`, or None if it is not aligned to it."""
        if self.crs != parent.crs or not _close(self.res, parent.res):
            return None
        col, row = ~parent.transform @ (self.transform.c, self.transform.f)
        if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
            return None
        return Window(round(col), round(row), self.width, self.height)

    def reproject(self, crs: CRS | None = None, resolution: float | None = None) -> PixelGrid:
        """The grid covering the same area in `crs` (default: own) at `resolution` map units."""
        if resolution is not None and not resolution > 0:
            raise ValueError(f"resolution must be positive, got {resolution}")
        crs = crs or self.crs
        if crs == self.crs:
            if resolution is None:
                return self
            xmin, ymin, xmax, ymax = self.bounds
            _check_side((xmax - xmin) / resolution, (ymax - ymin) / resolution, resolution)
            width = max(1, round((xmax - xmin) / resolution))
            height = max(1, round((ymax - ymin) / resolution))
            return PixelGrid(width, height, Affine(resolution, 0, xmin, 0, -resolution, ymax), crs)
        transform, width, height = calculate_default_transform(
            self.crs, crs, self.width, self.height, *self.bounds
        )
        if resolution:
            _check_side(width * abs(transform.a) / resolution, height * abs(transform.e) / resolution,
                        resolution)
            transform, width, height = calculate_default_transform(
                self.crs, crs, self.width, self.height, *self.bounds, resolution=resolution
            )
        return PixelGrid(int(width), int(height), transform, crs)

    def crop(self, bounds: Bounds) -> PixelGrid:
        """The sub-grid of whole pixels that covers `bounds` (in this grid's CRS), clipped to it."""
        inverse = ~self.transform
        cols, rows = zip(*(inverse @ (x, y) for x in bounds[::2] for y in bounds[1::2]), strict=True)
        col0 = max(0, math.floor(min(cols) + 1e-9))
        row0 = max(0, math.floor(min(rows) + 1e-9))
        col1 = min(self.width, math.ceil(max(cols) - 1e-9))
        row1 = min(self.height, math.ceil(max(rows) - 1e-9))
        if col1 <= col0 or row1 <= row0:
            raise self._outside(bounds, self.crs)
        return self.window(Window(col0, row0, col1 - col0, row1 - row0))

    def crop_to(self, bounds: Bounds, crs: CRS) -> PixelGrid:
        """`crop` with bounds given in any CRS; they are first clipped to the grid's footprint
        there, so an extent far larger than the raster (the whole world) keeps the whole grid."""
        if crs != self.crs:
            own = transform_bounds(self.bounds, self.crs, crs)
            clipped = (max(bounds[0], own[0]), max(bounds[1], own[1]),
                       min(bounds[2], own[2]), min(bounds[3], own[3]))
            if clipped[0] >= clipped[2] or clipped[1] >= clipped[3]:
                raise self._outside(bounds, crs)
            bounds = transform_bounds(clipped, crs, self.crs)
        return self.crop(bounds)

    def _outside(self, bounds: Bounds, crs: CRS) -> ExtentError:
        own = transform_bounds(self.bounds, self.crs, crs)
        return ExtentError(
            f"the extent {tuple(round(v, 6) for v in bounds)} does not intersect the raster, whose "
            f"extent is {tuple(round(v, 6) for v in own)} in {crs.to_string()}; give an extent inside it"
        )


MAX_SIDE = 2**31 - 1
"""Most pixels along a grid's side (GDAL's limit)."""


def _check_side(width: float, height: float, resolution: float) -> None:
    """SettingsError when a resolution makes a grid side longer than `MAX_SIDE` pixels."""
    if not (math.isfinite(width) and math.isfinite(height)) or max(width, height) > MAX_SIDE:
        raise SettingsError(
            f"resolution {resolution:g} makes a grid of about {width:.3g} x {height:.3g} px, more than "
            f"{MAX_SIDE:,} px a side; give a coarser --resolution or a smaller --extent"
        )


def _close(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return all(math.isclose(u, v, rel_tol=1e-9) for u, v in zip(a, b, strict=True))
