"""Opening any GDAL raster and reading 8-bit RGB chips from it on a processing grid."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.env import get_gdal_config, set_gdal_config
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window as RioWindow

from ..errors import MissingCRSError, RasterReadError, UnsupportedRasterError, reason
from ..geo import Extent, PixelGrid, Window, crs_label, norm_crs, transform_bounds, utm_crs_for
from .remote import describe_error, gdal_env, gdal_path, is_remote, public_url, remote_name, warn_slow
from .scaling import ValueRange, expand_bands, percentile_range

SAMPLE_SIZE = 1024
"""Longest side, in pixels, of the decimated read used to estimate a value range."""
DECODE_BUDGET = 256 * 2**20
"""Most pixels a value-range estimate may decode: a decimated read costing more (a large raster
without overviews: GDAL averages every pixel) is replaced by `SAMPLE_WINDOWS`² windows."""
SAMPLE_WINDOWS = 16
"""Windows across and down (of `SAMPLE_WINDOW`² px each: 1 Mpx in all) sampled on such a raster."""
SAMPLE_WINDOW = 64
BLOCK_CACHE_BYTES = 256 * 2**20
"""GDAL's block cache while samscape reads (unless GDAL_CACHEMAX is set): GDAL's default, 5 % of
the RAM, grew an encode by a gigabyte on a large raster; this holds a 1024-px chip row of a
3-band 40 000 px wide raster, so overlapping chip rows still decode each block once."""

FINGERPRINT_VERSION = "v2"
FINGERPRINT_FULL_BYTES = 64 * 2**20
"""Rasters whose pixels hold up to this many bytes are fingerprinted on every pixel."""
FINGERPRINT_SAMPLES = 8
"""Larger ones: this many windows across × down, of `FINGERPRINT_WINDOW`² px each."""
FINGERPRINT_WINDOW = 256
FINGERPRINT_REMOTE_SAMPLES = 4
"""A remote raster: this many windows across × down, each inside one internal block, and never
all its pixels, so a fingerprint fetches a few blocks whatever the raster's size."""
SLOW_REMOTE_PIXELS = 4096 * 4096
"""A remote raster this large without overviews is warned about (planning reads it at full size)."""


@dataclass(frozen=True, slots=True)
class ReadSpec:
    """How chips are read: three 1-based band indexes, the value range, the processing grid."""

    bands: tuple[int, int, int]
    value_range: ValueRange
    grid: PixelGrid


class RasterSource:
    """An open raster (path, URL, VRT, /vsi* path): native grid, planning, and chip reads."""

    def __init__(self, path: str | os.PathLike, crs: str | None = None) -> None:
        bound_block_cache()
        self.path = os.fspath(path)
        self.remote = is_remote(self.path)
        self.url = public_url(self.path)
        """What a folder records of a remote raster (no query string); None for a local one."""
        self._crs = crs
        self._vrt: WarpedVRT | None = None
        self._vrt_grid: PixelGrid | None = None
        try:
            with gdal_env(self.path):
                self._dataset = rasterio.open(gdal_path(self.path))
        except (RasterioIOError, OSError) as exc:
            if self.remote:
                raise RasterReadError(describe_error(self.path, str(exc))) from None
            raise RasterReadError(
                f"cannot open raster '{self.path}': {exc}; check the path and that GDAL reads it"
            ) from None
        if self._dataset.transform.is_identity:  # GDAL's stand-in for no geotransform
            how = ("it has ground control points only: warp it first (gdalwarp FILE OUT.tif)"
                   if self._dataset.gcps[0] else "georeference it first (e.g. gdal_translate -a_ullr "
                   "ULX ULY LRX LRY -a_srs EPSG:XXXX FILE OUT.tif)")
            self.close()
            raise MissingCRSError(f"raster '{self.shown}' has no georeferencing (no geotransform); {how}")
        if self.remote:
            self._check_cloud_optimized()
        elif self._dataset.driver == "VRT":
            self._check_vrt_sources()
        crs_value = self._dataset.crs or (norm_crs(crs) if crs else None)
        if crs_value is None:
            self.close()
            raise MissingCRSError(
                f"raster '{self.shown}' has no CRS; name it when encoding (--crs EPSG:XXXX, its "
                'EPSG code; to segment it live: "crs": "EPSG:XXXX" in the --settings file), or give '
                "the file one (gdal_edit.py -a_srs EPSG:XXXX FILE)"
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
        with gdal_env(self.path):
            if self._vrt is not None:
                self._vrt.close()
            self._dataset.close()

    def _check_vrt_sources(self) -> None:
        """RasterReadError if this VRT names local files that are not there (GDAL would read them
        as zeros, or fail on some reads only)."""
        missing = [f for f in self._dataset.files[1:] if not f.startswith("/vsi") and not os.path.exists(f)]
        if missing:
            self.close()
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise RasterReadError(
                f"VRT '{self.shown}' names files that are not there: {shown}; a VRT finds relative "
                "paths from its own folder: keep it beside its sources, or build it again (gdalbuildvrt)")

    def _check_cloud_optimized(self) -> None:
        """Warn once if this remote raster is not tiled, or large without overviews."""
        ds = self._dataset
        rows, cols = ds.block_shapes[0]
        if cols >= ds.width and rows < ds.height and ds.width > 512:
            warn_slow(self.path, "is stored in strips, not tiles")
        elif ds.width * ds.height > SLOW_REMOTE_PIXELS and not ds.overviews(1):
            warn_slow(self.path, "has no overviews")

    def reopen(self) -> RasterSource:
        """A second, independent handle on the same raster (same CRS), for another thread: a
        handle is not thread-safe."""
        return RasterSource(self.path, crs=self._crs)

    @property
    def name(self) -> str:
        if self.remote:
            return remote_name(self.path)
        return os.path.basename(self.path.rstrip("/")) or self.path

    @property
    def shown(self) -> str:
        """The path as messages show it (a URL without its query string)."""
        return self.url or self.path

    @property
    def count(self) -> int:
        return self._dataset.count

    def fingerprint(self) -> str:
        """What identifies the raster's content, as 'v2:' and 24 hex digits of a sha256 over its
        shape, bands, dtypes, nodata, georeferencing and pixels.

        Pixels: all of them when they hold up to `FINGERPRINT_FULL_BYTES` (so a copied file keeps
        its fingerprint); past that, `FINGERPRINT_SAMPLES`² windows of 256² px spread over the
        raster plus the file's size and modification time, so the cost stays bounded and an edit
        between the sampled windows is still noticed (a copy that does not keep the time counts
        as changed there). A remote raster is always sampled, on `FINGERPRINT_REMOTE_SAMPLES`²
        windows each inside one of its blocks (its fingerprint differs from a local copy's).
        Fingerprints of other versions never equal these.
        """
        with gdal_env(self.path):
            return self._fingerprint()

    def _fingerprint(self) -> str:
        ds = self._dataset
        facts = {
            "size": [ds.width, ds.height, ds.count],
            "dtypes": list(ds.dtypes),
            "nodata": list(map(str, ds.nodatavals)),
            "crs": crs_label(self.grid.crs),
            "transform": list(ds.transform)[:6],
        }
        digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode())
        itemsize = max(np.dtype(d).itemsize for d in ds.dtypes)
        whole = ds.width * ds.height * ds.count * itemsize <= FINGERPRINT_FULL_BYTES
        if self.remote:
            digest.update(b"remote")
            windows = _block_windows(ds.width, ds.height, ds.block_shapes[0])
        else:
            if not whole and os.path.isfile(self.path):
                stat = os.stat(self.path)
                digest.update(f"file {stat.st_size} {stat.st_mtime_ns}".encode())
            windows = _fingerprint_windows(ds.width, ds.height, ds.count * itemsize, whole)
        for window in windows:
            try:
                digest.update(np.ascontiguousarray(ds.read(window=window)).tobytes())
            except RasterioIOError as exc:
                raise self._read_error(exc) from None
        return f"{FINGERPRINT_VERSION}:{digest.hexdigest()[:24]}"

    def _read_error(self, exc: Exception) -> RasterReadError:
        cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc  # GDAL's own words
        why = reason(cause).replace(" See previous exception for details.", "")
        if self.remote:
            return RasterReadError(f"reading remote raster '{self.shown}' failed ({why}); check the "
                                   "network and the server, then run the same command again (an "
                                   "encoding resumes)")
        return RasterReadError(f"cannot read raster '{self.shown}': {why}")

    def check_north_up(self) -> None:
        """UnsupportedRasterError for a rotated or sheared raster: its extent and chip grid would
        be wrong (samscape's grids are north-up), so it must be warped first."""
        t = self.grid.transform
        if t.b != 0 or t.d != 0:
            orthogonal = abs(t.a * t.b + t.d * t.e) <= 1e-9 * (t.a**2 + t.b**2 + t.d**2 + t.e**2)
            kind = "rotated" if orthogonal else "sheared"
            raise UnsupportedRasterError(
                f"raster '{self.shown}' is {kind} (geotransform {tuple(round(v, 6) for v in t[:6])}); "
                f"samscape needs north-up pixels: warp it first, e.g. gdalwarp '{self.path}' "
                "northup.tif, and encode northup.tif"
            )

    def plan_grid(
        self, crs: str | None = None, resolution: float | None = None, extent: Extent | None = None
    ) -> PixelGrid:
        """The processing grid: reprojected to `crs` / `resolution`, cropped to `extent`.

        A `resolution` without `crs` on a raster in degrees picks the UTM zone of its centre, so
        the resolution is in metres.
        """
        self.check_north_up()
        target_crs = norm_crs(crs) if crs and not self.assigned_crs else None
        if resolution is not None and target_crs is None and self.grid.crs.is_geographic:
            target_crs = utm_crs_for(self.grid.bounds, self.grid.crs)
        grid = self.grid.reproject(target_crs, resolution)
        if extent is not None:
            grid = grid.crop_to(extent.bounds, extent.crs or grid.crs)
        return grid

    def estimate_range(
        self, grid: PixelGrid, bands: tuple[int, int, int], percentiles: tuple[float, float],
        budget: int = DECODE_BUDGET,
    ) -> ValueRange:
        """The value range between `percentiles` of a decimated read of `grid` (overviews used), or
        of `SAMPLE_WINDOWS`² full-resolution windows spread over it where that read would decode
        more than `budget` pixels (a large raster without overviews), so planning costs the same
        at any size.

        A grid not aligned to the raster's (reprojected, resampled) is sampled on the raster's own
        pixels under it: a decimated read through a warp would cost every pixel of the target grid.
        """
        if grid.offset_in(self.grid) is None:
            own = transform_bounds(grid.bounds, grid.crs, self.grid.crs) if grid.crs != self.grid.crs \
                else grid.bounds
            grid = self.grid.crop(own)
        unique = sorted(set(bands))
        scale = max(grid.width, grid.height) / SAMPLE_SIZE
        if scale > 1 and self._decoded_pixels(grid, scale, unique[0]) > budget:
            return percentile_range(self._sample(grid, unique), percentiles)
        shape = (max(1, round(grid.height / scale)), max(1, round(grid.width / scale)))
        if scale <= 1:
            shape = (grid.height, grid.width)
        data = self._read(grid, Window(0, 0, grid.width, grid.height), unique, shape)
        return percentile_range(data, percentiles)

    def _decoded_pixels(self, grid: PixelGrid, scale: float, band: int) -> float:
        """About how many pixels GDAL decodes for a read of `grid` decimated by `scale`: it reads
        the coarsest overview not coarser than asked, else every pixel."""
        factors = [f for f in self._dataset.overviews(band) if f <= scale]
        return grid.width * grid.height / max(factors, default=1) ** 2

    def _sample(self, grid: PixelGrid, bands: list[int]) -> np.ma.MaskedArray:
        """Masked (C, SAMPLE_WINDOW, n · SAMPLE_WINDOW) values of windows spread evenly over `grid`."""
        n, size = SAMPLE_WINDOWS, SAMPLE_WINDOW
        w, h = min(size, grid.width), min(size, grid.height)
        cols = sorted({round(i * (grid.width - w) / (n - 1)) for i in range(n)})
        rows = sorted({round(i * (grid.height - h) / (n - 1)) for i in range(n)})
        windows = [self._read(grid, Window(c, r, w, h), bands, None) for r in rows for c in cols]
        return np.ma.concatenate(windows, axis=2)

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
            with gdal_env(self.path):
                dataset, col, row = self._warped(grid), window.col_off, window.row_off
        shape = (len(bands), *out_shape) if out_shape else None
        try:
            with gdal_env(self.path):
                data = dataset.read(
                    bands, window=RioWindow(col, row, window.width, window.height), masked=True,
                    out_shape=shape, resampling=Resampling.average,
                )
        except RasterioIOError as exc:
            raise self._read_error(exc) from None
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


@functools.cache
def bound_block_cache() -> None:
    """Cap GDAL's block cache at `BLOCK_CACHE_BYTES` (once per process; never above GDAL's own
    default, and not when the user set GDAL_CACHEMAX)."""
    if "GDAL_CACHEMAX" in os.environ:
        return
    current = get_gdal_config("GDAL_CACHEMAX")
    if not isinstance(current, int) or current > BLOCK_CACHE_BYTES:
        set_gdal_config("GDAL_CACHEMAX", BLOCK_CACHE_BYTES)


def _fingerprint_windows(width: int, height: int, pixel_bytes: int, whole: bool) -> list[RioWindow]:
    """Row strips of about 8 MB covering the raster (`whole`), else a fixed spread of windows."""
    if whole:
        strip = max(1, (8 * 2**20) // max(1, width * pixel_bytes))
        return [RioWindow(0, r, width, min(strip, height - r)) for r in range(0, height, strip)]
    n, size = FINGERPRINT_SAMPLES, FINGERPRINT_WINDOW
    w, h = min(size, width), min(size, height)
    cols = sorted({round(i * (width - w) / (n - 1)) for i in range(n)})
    rows = sorted({round(i * (height - h) / (n - 1)) for i in range(n)})
    return [RioWindow(c, r, w, h) for r in rows for c in cols]


def _block_windows(width: int, height: int, block: tuple[int, int]) -> list[RioWindow]:
    """`FINGERPRINT_REMOTE_SAMPLES`² windows of at most `FINGERPRINT_WINDOW`² px spread over the
    raster, each inside the one block (rows, cols) that holds its spread point."""
    n = FINGERPRINT_REMOTE_SAMPLES
    rows, cols = block
    w, h = min(FINGERPRINT_WINDOW, cols, width), min(FINGERPRINT_WINDOW, rows, height)
    xs = sorted({min((round(i * (width - 1) / (n - 1)) // cols) * cols, width - w) for i in range(n)})
    ys = sorted({min((round(i * (height - 1) / (n - 1)) // rows) * rows, height - h) for i in range(n)})
    return [RioWindow(x, y, w, h) for y in ys for x in xs]


def _has_alpha(dataset: rasterio.DatasetReader) -> bool:
    return any(ci.name == "alpha" for ci in dataset.colorinterp)
