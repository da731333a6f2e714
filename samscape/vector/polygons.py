"""Binary masks → polygons in map coordinates: pixel-exact or simplified, holes kept."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from numbers import Real

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer
from rasterio.crs import CRS
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from ..errors import SettingsError
from ..geo import crs_transformer

VECTORIZE_MODES = ("pixel", "simplified")
RAGGED_EDGES = 20_000  # pixel edges from which specks are cleared before tracing (a 1024² disc has 3 200)
UNMASKED_PIXELS_PER_EDGE = 32  # from this many pixels per pixel edge, tracing the 0 parts too is faster


@dataclass(frozen=True, slots=True)
class VectorOptions:
    """How a mask becomes polygons.

    mode: 'pixel' (edges follow pixel edges) or 'simplified' (Douglas-Peucker, topology kept);
    tolerance: simplification tolerance in pixels; max_polygon_only: keep the largest polygon;
    min_area: drop polygons smaller than this (map units²); fill_holes: fill holes smaller than
    this (map units²); min_pixels: drop the specks, parts smaller than this many pixels, but never
    the largest part (0 keeps every speck).
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
                     options: VectorOptions = VectorOptions()) -> list[Polygon]:
    """Polygons of the True pixels of `mask` (H, W), georeferenced by `transform`, largest first.

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
    _drop_specks(crop, options.min_pixels, options.min_area / pixel_area if pixel_area else np.inf)
    polygons = trace(crop, shifted)
    if options.fill_holes > 0:
        polygons = np.array([_fill_holes(p, options.fill_holes) for p in polygons], dtype=object)
    areas = shapely.area(polygons)
    keep = areas >= options.min_area
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


def _drop_specks(mask: np.ndarray, min_pixels: float, min_area_pixels: float) -> None:
    """Clear, in place, the 4-connected parts of a uint8 `mask` that the speck filter would drop
    anyway (half a pixel short of `min_pixels` or more), when a part that is surely kept remains to
    be the largest: a ragged mask's thousands of one-pixel parts are then never traced. Only for
    masks with `RAGGED_EDGES` pixel edges or more: labelling costs more than it saves on a smooth
    object (4 ms for 1024², where counting edges costs 0.3 ms)."""
    if min_pixels < 1.5 or _edge_count(mask) < RAGGED_EDGES:
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


def trace(mask: np.ndarray, transform: Affine) -> np.ndarray:
    """The polygons of the 1 pixels of a uint8 `mask` (H, W) (4-connected, holes kept), in
    `transform`'s coordinates, in `rasterio.features.shapes` order: an object array of Polygons.

    All polygons are built in one shapely call from the rings' coordinates and offsets, which is
    what makes a ragged mask's thousands of parts cheap; they equal `shape()` of each GeoJSON.
    A smooth mask is traced without a mask band, its 0 parts left out afterwards: GDAL gives the
    same 1 polygons in the same order, and skips building and reading the band (0.2 ms of 1.5 ms
    for 256²); a ragged one keeps the band, as its many 0 parts would cost more to convert.
    """
    rings: list[list] = []
    ring_counts: list[int] = []
    unmasked = _edge_count(mask) * UNMASKED_PIXELS_PER_EDGE <= mask.size
    band = None if unmasked else mask.astype(bool)
    for geom, value in rasterio.features.shapes(mask, mask=band, transform=transform):
        if unmasked and value != 1:
            continue
        rings += geom["coordinates"]
        ring_counts.append(len(geom["coordinates"]))
    if not rings:
        return np.empty(0, dtype=object)
    sizes = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    flat = chain.from_iterable(chain.from_iterable(rings))
    coords = np.fromiter(flat, dtype=np.float64, count=2 * int(sizes.sum())).reshape(-1, 2)
    ring_offsets = np.concatenate([[0], np.cumsum(sizes)])
    polygon_offsets = np.concatenate([[0], np.cumsum(ring_counts)])
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords, (ring_offsets, polygon_offsets))


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
