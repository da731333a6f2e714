"""CRS normalisation and reprojection of bounds."""

from __future__ import annotations

import math
from typing import NamedTuple

from pyproj import CRS as ProjCRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import transform_bounds as _transform_bounds

from ..errors import ExtentError, SettingsError


class Bounds(NamedTuple):
    """An axis-aligned rectangle in map units: (xmin, ymin, xmax, ymax)."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float


def norm_crs(value: CRS | str | int | dict) -> CRS:
    """Any CRS spelling (EPSG code, 'EPSG:4326', WKT, PROJ string) as a rasterio CRS."""
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except (CRSError, ValueError) as exc:  # ValueError: 'EPSG:bogus' (rasterio's int())
        raise SettingsError(
            f"unknown CRS {value!r} ({exc}); give it as EPSG:XXXX, WKT or a PROJ string"
        ) from None


def crs_label(crs: CRS) -> str:
    """'EPSG:32633' where the CRS has an EPSG code, else its WKT."""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def transform_bounds(bounds: Bounds | tuple, src: CRS, dst: CRS) -> Bounds:
    """`bounds` in `src` as the bounds that enclose them in `dst` (densified edges)."""
    if src == dst:
        return Bounds(*bounds)
    return Bounds(*_transform_bounds(src, dst, *bounds, densify_pts=21))


def utm_crs_for(bounds: Bounds, crs: CRS) -> CRS:
    """The WGS 84 UTM zone that holds the centre of `bounds`; beyond UTM's latitudes (above 84°N,
    below 80°S) the Universal Polar Stereographic CRS of that pole."""
    lon0, lat0, lon1, lat1 = transform_bounds(bounds, crs, CRS.from_epsg(4326))
    lon, lat = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    info = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    code = info[0].code if info else ("32661" if lat > 0 else "32761")
    return CRS.from_user_input(ProjCRS.from_epsg(code).to_wkt())


class Extent(NamedTuple):
    """A processing extent and the CRS it is written in (None: the raster's)."""

    bounds: Bounds
    crs: CRS | None


def parse_extent(value: str | list | tuple | Extent) -> Extent:
    """'XMIN,YMIN,XMAX,YMAX[@CRS]' (or a 4-number sequence) as an Extent."""
    if isinstance(value, Extent):
        return value
    crs = None
    if isinstance(value, str):
        text, _, crs_text = value.partition("@")
        crs = norm_crs(crs_text.strip()) if crs_text.strip() else None
        parts = text.split(",")
    else:
        parts = list(value)
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ExtentError(f"extent {value!r} is not XMIN,YMIN,XMAX,YMAX[@CRS] with 4 finite numbers")
    xmin, ymin, xmax, ymax = numbers
    if xmin >= xmax or ymin >= ymax:
        raise ExtentError(f"extent {value!r} is empty: XMIN must be below XMAX and YMIN below YMAX")
    return Extent(Bounds(xmin, ymin, xmax, ymax), crs)
