"""Map tiles of a raster in the source's own CRS, scaled exactly as the encoder scaled it.

The tile grid starts at the top-left corner of the processing grid. Resolutions are the grid's
pixel size times powers of two: level 0 holds the whole extent in one tile, one level matches the
grid's pixels exactly, and the last is a quarter of a pixel.
Tile rows count downwards from the top, as OpenLayers numbers them.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import numpy as np
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rio_tiler.errors import NoOverviewWarning, RioTilerError
from rio_tiler.io import Reader
from rio_tiler.utils import render

from ..errors import NotFoundError, RasterReadError
from ..geo import PixelGrid
from ..raster import ValueRange
from ..raster.remote import gdal_env, gdal_path, public_url

# rio-tiler suggests overviews on every read, and a PNG tile has no georeferencing; both are
# expected here (set once: warnings.catch_warnings is not thread-safe).
warnings.filterwarnings("ignore", category=NoOverviewWarning)
warnings.filterwarnings("ignore", category=NotGeoreferencedWarning, module="rasterio.io")

TILE_SIZE = 256
MAX_ZOOM_IN = 4


@dataclass(frozen=True)
class TileGrid:
    """Square tiles of `size` pixels from `origin` (x, y of the top-left corner) at each of
    `resolutions` (map units per pixel, coarsest first), covering `extent`."""

    origin: tuple[float, float]
    resolutions: tuple[float, ...]
    extent: tuple[float, float, float, float]
    size: int = TILE_SIZE

    @classmethod
    def for_grid(cls, grid: PixelGrid, size: int = TILE_SIZE) -> TileGrid:
        xmin, ymin, xmax, ymax = grid.bounds
        native = abs(grid.transform.a)
        top = max(0, math.ceil(math.log2(max(xmax - xmin, ymax - ymin) / native / size)))
        zoom_in = int(math.log2(MAX_ZOOM_IN))
        return cls((xmin, ymax), tuple(native * 2.0**k for k in range(top, -zoom_in - 1, -1)),
                   (xmin, ymin, xmax, ymax), size)

    def bounds(self, z: int, x: int, y: int) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of tile column `x`, row `y` at level `z`; NotFoundError for
        a tile off the grid."""
        if not 0 <= z < len(self.resolutions) or x < 0 or y < 0:
            raise NotFoundError(f"no tile {z}/{x}/{y}: levels are 0..{len(self.resolutions) - 1}")
        span = self.size * self.resolutions[z]
        left, top = self.origin[0] + x * span, self.origin[1] - y * span
        if left >= self.extent[2] or top <= self.extent[1]:
            raise NotFoundError(f"tile {z}/{x}/{y} lies outside the source's extent")
        return left, top - span, left + span, top

    def to_json(self) -> dict:
        return {"origin": list(self.origin), "resolutions": list(self.resolutions),
                "extent": list(self.extent), "size": self.size}


class TileRenderer:
    """PNG tiles of `raster`: `bands` (1-based, as R, G, B) mapped through `value_range` to
    0..255 like the encoder's chips, reprojected to `crs`; nodata is transparent."""

    def __init__(self, raster: str | os.PathLike, bands: tuple[int, int, int],
                 value_range: ValueRange, crs: CRS, grid: TileGrid) -> None:
        self.raster = os.fspath(raster)
        self.bands = bands
        self.value_range = value_range
        self.crs = crs
        self.grid = grid

    def tile(self, z: int, x: int, y: int) -> bytes:
        bbox = self.grid.bounds(z, x, y)
        try:
            with gdal_env(self.raster), Reader(gdal_path(self.raster)) as reader:
                image = reader.part(bbox, dst_crs=self.crs, bounds_crs=self.crs, indexes=self.bands,
                                    width=self.grid.size, height=self.grid.size)
        except (RioTilerError, OSError) as exc:
            raise RasterReadError(f"cannot render a tile of '{public_url(self.raster) or self.raster}': "
                                  f"{exc}") from None
        data = np.ma.MaskedArray(image.array.data, mask=np.ma.getmaskarray(image.array))
        if np.issubdtype(data.dtype, np.floating):
            data = np.ma.masked_invalid(data)
        pixels = self.value_range.to_uint8(data).transpose(2, 0, 1)
        valid = np.asarray(~np.ma.getmaskarray(data).any(axis=0))
        return render(pixels, valid.astype(np.uint8) * 255, img_format="PNG")
