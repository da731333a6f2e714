"""GeoParquet 1.1 `geo` metadata: one WKB geometry column with its CRS and bounding box (a dict)."""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from pyproj import CRS as ProjCRS


def geo_metadata(crs_wkt: str, geometries: Sequence, geometry_types: list[str]) -> dict:
    """The `geo` key of a GeoParquet file whose column `geometry` holds `geometries` (WKB)."""
    column = {
        "encoding": "WKB",
        "geometry_types": geometry_types,
        "crs": ProjCRS.from_wkt(crs_wkt).to_json_dict(),
    }
    if len(geometries):
        column["bbox"] = [float(v) for v in shapely.total_bounds(list(geometries))]
    return {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
