"""Binary masks → polygons in map coordinates: pixel-exact or simplified, holes kept."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Real

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer
from rasterio.crs import CRS
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from ..errors import SettingsError
from ..geo import crs_transformer
from .tracing import trace

VECTORIZE_MODES = ("pixel", "simplified")
SPECKLED_EDGES = 20_000, 0.4  # pixel edges, and per pixel, from which specks are cleared before tracing


@dataclass(frozen=True, slots=True)
class VectorOptions:
    """How a mask becomes polygons.

    mode: 'pixel' (edges follow pixel edges) or 'simplified' (Douglas-Peucker, topology kept);
    tolerance: simplification tolerance in pixels; max_polygon_only: keep the largest polygon;
    min_area: drop polygons smaller than this (m²); fill_holes: fill holes smaller than this (m²);
    min_pixels: drop the specks, parts smaller than this many pixels, but never the largest part
    (0 keeps every speck).
    """

    mode: str = "pixel"
    tolerance: float = 1.0
    max_polygon_only: bool = False
    min_area: float = 0.0
    fill_holes: float = 0.0
    min_pixels: float = 4.0

    def __post_init__(self) -> None:
        if self.mode not in VECTORIZE_MODES:
            raise SettingsError(f"vectorize mode {self.mode!r} is not one of: pixel, simplified")
        for name in ("tolerance", "min_area", "fill_holes", "min_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not (np.isfinite(float(value))
                                                                           and float(value) >= 0):
                raise SettingsError(f"{name.replace('_', ' ')} must be a number >= 0, got {value}")


def mask_to_polygons(mask: np.ndarray, transform: Affine,
                     options: VectorOptions = VectorOptions(), crs: CRS | None = None) -> list[Polygon]:
    """Polygons of the True pixels of `mask` (H, W), georeferenced by `transform` in `crs`, largest
    first (equal areas in the raster order of their first pixel). The options' areas are in m²:
    planar areas in the CRS's unit squared, geodesic at the mask's centre in a geographic CRS;
    without `crs`, in map units².

    Only the mask's bounding box is traced, so the cost follows the object's size, not the chip's.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if not len(rows):
        return []
    cols = np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = np.ascontiguousarray(mask[r0:r1, c0:c1], dtype=np.uint8)
    shifted = transform @ Affine.translation(int(c0), int(r0))
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    per_m2 = 1.0 if crs is None or not (options.min_area or options.fill_holes) else \
        pixel_area / _pixel_m2(shifted, (r1 - r0) / 2, (c1 - c0) / 2, crs)
    min_area = options.min_area * per_m2
    _drop_specks(crop, options.min_pixels, min_area / pixel_area if pixel_area else np.inf)
    polygons = trace(crop, shifted)
    if options.fill_holes > 0:
        polygons = np.array([_fill_holes(p, options.fill_holes * per_m2) for p in polygons], dtype=object)
    areas = shapely.area(polygons)
    keep = areas >= min_area
    polygons, areas = polygons[keep], areas[keep]
    order = np.argsort(-areas, kind="stable")
    polygons, areas = polygons[order], areas[order]
    keep = areas >= options.min_pixels * pixel_area
    keep[:1] = True
    polygons = polygons[keep]
    if options.max_polygon_only:
        polygons = polygons[:1]
    if options.mode == "simplified":
        pixel = min(abs(transform.a), abs(transform.e))
        return [_simplify(p, options.tolerance * pixel) for p in polygons]
    return list(polygons)


def _pixel_m2(transform: Affine, row: float, col: float, crs: CRS) -> float:
    """The area in m² of the pixel at (`row`, `col`) of `transform`'s grid in `crs`: geodesic in a
    geographic CRS, else the planar area in the CRS's unit."""
    geod, to_lonlat, unit = _measure(crs.to_wkt())
    pixel_area = abs(transform.a * transform.e - transform.b * transform.d)
    if geod is None or to_lonlat is not None:
        return pixel_area * unit * unit
    x0, y0 = int(col), int(row)
    corners = [transform @ (x, y) for x, y in ((x0, y0), (x0 + 1, y0), (x0 + 1, y0 + 1), (x0, y0 + 1))]
    return area_m2(Polygon(corners), crs)


def _drop_specks(mask: np.ndarray, min_pixels: float, min_area_pixels: float) -> None:
    """Clear, in place, the 4-connected parts of a uint8 `mask` that the speck filter would drop
    anyway (half a pixel short of `min_pixels` or more), when a part that is surely kept remains to
    be the largest: a speckled mask's thousands of one-pixel parts are then never traced. Only for
    masks with `SPECKLED_EDGES` pixel edges, and per pixel, or more: labelling (6 ms for 1024²)
    costs more than it saves on smooth objects and on noise drawn from upscaled logits (bilinear
    4× noise: 34 ms traced as it is, 48 ms with specks cleared; 1× noise: 327 and 212 ms)."""
    edges, per_pixel = SPECKLED_EDGES
    count = _edge_count(mask) if min_pixels >= 1.5 else 0
    if count < edges or count < per_pixel * mask.size:
        return
    from scipy import ndimage  # not at import: commands that trace nothing start without scipy

    labels, count = ndimage.label(mask)
    if count < 2:
        return
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    largest = sizes.max()
    if not (largest > min_pixels + 0.5 and largest > min_area_pixels * (1 + 1e-9)):
        return
    small = sizes <= min_pixels - 0.5
    small[0] = False
    if small.any():
        mask[small[labels]] = 0


def _edge_count(mask: np.ndarray) -> int:
    """The number of pixel edges between a 0 and a 1 pixel in `mask` (H, W) uint8."""
    return int(np.count_nonzero(mask[:, 1:] ^ mask[:, :-1]) + np.count_nonzero(mask[1:] ^ mask[:-1]))


def _fill_holes(polygon: Polygon, max_area: float) -> Polygon:
    holes = [ring for ring in polygon.interiors if Polygon(ring).area >= max_area]
    return Polygon(polygon.exterior, holes)


def _simplify(polygon: Polygon, tolerance: float) -> Polygon:
    simple = shapely.simplify(polygon, tolerance, preserve_topology=True)
    return simple if isinstance(simple, Polygon) and simple.is_valid else polygon


def reproject(polygons: list[Polygon], src: CRS, dst: CRS) -> list[Polygon]:
    """`polygons` from CRS `src` to `dst` (vertices transformed; edges not densified), all in one
    call of the pair's cached transformer."""
    if src == dst or not polygons:
        return list(polygons)
    transformer = crs_transformer(src, dst)
    moved = shapely.transform(np.array(polygons, dtype=object),
                              lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    return list(moved)


def area_m2(polygon: Polygon, crs: CRS) -> float:
    """The area of `polygon` (in `crs`) in square metres on the CRS's ellipsoid, whatever the CRS:
    geodesic, so a polar stereographic or a degree layer reports the same m² as UTM. A CRS without
    an ellipsoid (a local engineering CRS) gives the planar area times its unit's size in metres²."""
    geod, to_lonlat, unit = _measure(crs.to_wkt())
    if geod is None:
        return float(polygon.area) * unit * unit
    if to_lonlat is not None:
        polygon = shapely.transform(
            polygon, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))
    area, _ = geod.geometry_area_perimeter(orient(polygon, 1.0))
    return abs(float(area))


@lru_cache(maxsize=32)
def _measure(wkt: str) -> tuple[Geod | None, Transformer | None, float]:
    """(ellipsoid, transformer to its lon/lat or None if already there, linear unit in metres)."""
    crs = ProjCRS.from_wkt(wkt)
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    geod = crs.get_geod()
    if geod is None:
        return None, None, unit
    if crs.is_geographic:
        return geod, None, unit
    return geod, Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True), unit
