"""Opening any GDAL raster and reading 8-bit RGB chips from it on a processing grid."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window as RioWindow

from ..errors import MissingCRSError, RasterReadError
from ..geo import Extent, PixelGrid, Window, crs_label, norm_crs, utm_crs_for
from .scaling import ValueRange, expand_bands, percentile_range

SAMPLE_SIZE = 1024
"""Longest side, in pixels, of the decimated read used to estimate a value range."""


@dataclass(frozen=True, slots=True)
class ReadSpec:
    """How chips are read: three 1-based band indexes, the value range, the processing grid."""

    bands: tuple[int, int, int]
    value_range: ValueRange
    grid: PixelGrid


class RasterSource:
    """An open raster (path, URL, VRT, /vsi* path): native grid, planning, and chip reads."""

    def __init__(self, path: str | os.PathLike, crs: str | None = None) -> None:
        self.path = os.fspath(path)
        self._vrt: WarpedVRT | None = None
        self._vrt_grid: PixelGrid | None = None
        try:
            self._dataset = rasterio.open(self.path)
        except (RasterioIOError, OSError) as exc:
            raise RasterReadError(
                f"cannot open raster '{self.path}': {exc}; check the path and that GDAL reads it"
            ) from None
        crs_value = self._dataset.crs or (norm_crs(crs) if crs else None)
        if crs_value is None:
            self.close()
            raise MissingCRSError(
                f"raster '{self.path}' has no CRS; pass --crs (e.g. --crs EPSG:32633) to say which"
            )
        self.assigned_crs = self._dataset.crs is None
        self.grid = PixelGrid(
            self._dataset.width, self._dataset.height, self._dataset.transform, crs_value
        )

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._vrt is not None:
            self._vrt.close()
        self._dataset.close()

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/")) or self.path

    @property
    def count(self) -> int:
        return self._dataset.count

    def fingerprint(self) -> str:
        """A short hash of what identifies the raster's content: shape, bands, georeferencing, size."""
        ds = self._dataset
        facts = {
            "size": [ds.width, ds.height, ds.count],
            "dtypes": list(ds.dtypes),
            "nodata": list(map(str, ds.nodatavals)),
            "crs": crs_label(self.grid.crs),
            "transform": list(ds.transform)[:6],
            "bytes": os.path.getsize(self.path) if os.path.isfile(self.path) else None,
        }
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]

    def plan_grid(
        self, crs: str | None = None, resolution: float | None = None, extent: Extent | None = None
    ) -> PixelGrid:
        """The processing grid: reprojected to `crs` / `resolution`, cropped to `extent`.

        A `resolution` without `crs` on a raster in degrees picks the UTM zone of its centre, so
        the resolution is in metres.
        """
        target_crs = norm_crs(crs) if crs and not self.assigned_crs else None
        if resolution is not None and target_crs is None and self.grid.crs.is_geographic:
            target_crs = utm_crs_for(self.grid.bounds, self.grid.crs)
        grid = self.grid.reproject(target_crs, resolution)
        if extent is not None:
            grid = grid.crop_to(extent.bounds, extent.crs or grid.crs)
        return grid

    def estimate_range(
        self, grid: PixelGrid, bands: tuple[int, int, int], percentiles: tuple[float, float]
    ) -> ValueRange:
        """The value range between `percentiles` of a decimated read of `grid` (overviews used)."""
        scale = max(grid.width, grid.height) / SAMPLE_SIZE
        shape = (max(1, round(grid.height / scale)), max(1, round(grid.width / scale)))
        if scale <= 1:
            shape = (grid.height, grid.width)
        data = self._read(grid, Window(0, 0, grid.width, grid.height), sorted(set(bands)), shape)
        return percentile_range(data, percentiles)

    def spec(
        self, bands: tuple[int, ...], grid: PixelGrid, value_range: ValueRange | None,
        percentiles: tuple[float, float] = (2.0, 98.0),
    ) -> ReadSpec:
        """Validate the bands and settle the value range (computed if not given)."""
        expanded = expand_bands(bands, self.count)
        if value_range is None:
            value_range = self.estimate_range(grid, expanded, percentiles)
        return ReadSpec(expanded, value_range, grid)

    def read_chip(self, spec: ReadSpec, window: Window) -> np.ndarray | None:
        """(H, W, 3) uint8 pixels of `window` of the processing grid; None if all nodata."""
        unique = sorted(set(spec.bands))
        data = self._read(spec.grid, window, unique, None)
        if np.ma.getmaskarray(data).all():
            return None
        order = [unique.index(b) for b in spec.bands]
        return spec.value_range.to_uint8(data[order])

    def _read(
        self, grid: PixelGrid, window: Window, bands: list[int], out_shape: tuple[int, int] | None
    ) -> np.ma.MaskedArray:
        """Masked (C, H, W) values of `window` of `grid`, directly where aligned, else warped."""
        native = grid.offset_in(self.grid)
        if native is not None:
            dataset = self._dataset
            col, row = native.col_off + window.col_off, native.row_off + window.row_off
        else:
            dataset, col, row = self._warped(grid), window.col_off, window.row_off
        shape = (len(bands), *out_shape) if out_shape else None
        try:
            data = dataset.read(
                bands, window=RioWindow(col, row, window.width, window.height), masked=True,
                out_shape=shape, resampling=Resampling.average,
            )
        except RasterioIOError as exc:
            raise RasterReadError(f"cannot read raster '{self.path}': {exc}") from None
        if np.issubdtype(data.dtype, np.floating):
            data = np.ma.masked_invalid(data, copy=False)
        return data

    def _warped(self, grid: PixelGrid) -> WarpedVRT:
        if self._vrt is None or self._vrt_grid != grid:
            if self._vrt is not None:
                self._vrt.close()
            self._vrt = WarpedVRT(
                self._dataset, src_crs=self.grid.crs, crs=grid.crs, transform=grid.transform,
                width=grid.width, height=grid.height, resampling=Resampling.average,
                add_alpha=self._dataset.nodata is None and not _has_alpha(self._dataset),
            )
            self._vrt_grid = grid
        return self._vrt


def _has_alpha(dataset: rasterio.DatasetReader) -> bool:
    return any(ci.name == "alpha" for ci in dataset.colorinterp)
