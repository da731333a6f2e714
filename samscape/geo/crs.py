"""CRS normalisation and reprojection of bounds."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import rasterio
from pyproj import CRS as ProjCRS
from pyproj import Transformer
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


def norm_crs(value: CRS | ProjCRS | str | int | dict) -> CRS:
    """Any CRS spelling as a rasterio CRS: an EPSG code (4326, '4326', 'EPSG:4326'), WKT, a PROJ
    string, a PROJ JSON dict, a pyproj CRS. SettingsError for anything else or for a CRS no map is
    drawn in (geocentric, vertical); GDAL/PROJ's own error line ("ERROR 1: ...") is kept off
    stderr: inside a rasterio.Env, GDAL's errors go to logging."""
    if isinstance(value, CRS):
        return value
    if isinstance(value, ProjCRS):  # pyproj's, as geopandas gives it (GeoDataFrame.crs)
        value = value.to_wkt()
    if isinstance(value, np.integer):
        value = int(value)
    elif isinstance(value, str) and _DIGITS.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, dict)):
        raise _unknown(value, f"a {type(value).__name__}")
    try:
        with rasterio.Env():
            crs = CRS.from_user_input(value)
    except CRSError as exc:
        raise _unknown(value, str(exc).splitlines()[0] if str(exc) else "not a CRS") from None
    except (ValueError, TypeError):  # Python's own words ("invalid literal for int()") help nobody
        raise _unknown(value, "not a CRS PROJ knows") from None
    if crs.is_geographic or crs.is_projected:
        return crs
    proj = ProjCRS.from_wkt(crs.to_wkt())
    if proj.is_geocentric or proj.is_vertical:  # not a compound one: that is projected or geographic
        kind = proj.type_name.removesuffix(" CRS").lower()
        raise SettingsError(f"CRS {crs_label(crs)} is {kind}, not a map CRS; give one such as "
                            "EPSG:4326 or a UTM zone (EPSG:326XX)")
    return crs


_DIGITS = re.compile(r"^\s*[0-9]+\s*$")


def _unknown(value: object, reason: str) -> SettingsError:
    text = " ".join(repr(value).split())  # one line, whatever the object's repr
    shown = text if len(text) <= 80 else text[:77] + "..."
    return SettingsError(f"unknown CRS {shown} ({reason}); give it as EPSG:XXXX (or the bare "
                         "code), WKT or a PROJ string")


def plain_number(value: float) -> str:
    """A coordinate for people: plain decimal, never '4e+06'; about 10 significant digits, at
    most 7 decimals (1 cm in degrees), trailing zeros dropped: 4000000, 500010.25, 15.1234568."""
    value = float(value)
    if not math.isfinite(value) or abs(value) >= 1e15:
        return repr(value)
    digits = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    text = f"{value:.{min(7, max(0, 10 - digits))}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def crs_label(crs: CRS) -> str:
    """'EPSG:32633' where the CRS has an EPSG code, else its WKT."""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def transform_bounds(bounds: Bounds | tuple, src: CRS, dst: CRS) -> Bounds:
    """`bounds` in `src` as the bounds that enclose them in `dst` (densified edges)."""
    if src == dst:
        return Bounds(*bounds)
    return Bounds(*_transform_bounds(src, dst, *bounds, densify_pts=21))


def crs_transformer(src: CRS, dst: CRS) -> Transformer:
    """The pyproj transformer from `src` to `dst`, x before y (longitude before latitude), built
    once per pair of CRSs and shared (pyproj gives each thread its own PROJ context): building one
    costs about a millisecond, transforming a polygon's vertices with it some microseconds."""
    return _transformer(src.to_wkt(), dst.to_wkt())


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(ProjCRS.from_wkt(src_wkt), ProjCRS.from_wkt(dst_wkt), always_xy=True)


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
