"""Output layers: saved polygons in GeoPackage, Shapefile, GeoJSON, FlatGeobuf or GeoParquet.

Every change rewrites the layer to a temporary file beside it and renames it into place, so a
failed write leaves the previous layer as it was, and undoing a save works in every format.
"""

from __future__ import annotations

import glob
import json
import os
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from shapely.geometry import Polygon

from ..errors import OutputLayerError
from ..geo import crs_label
from .geoparquet import geo_metadata

DRIVERS = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}

# Field name (at most 10 characters, for Shapefiles) → numpy dtype.
FIELDS: dict[str, str] = {
    "group_id": "object",     # one ULID per save
    "group_size": "int32",    # polygons in the save
    "area": "float64",        # in the layer's CRS units
    "fg_points": "int32",
    "bg_points": "int32",
    "box_used": "int32",      # 1 if a box prompt was used, else 0
    "score": "float64",       # the model's predicted IoU
    "model": "object",
    "source": "object",
    "created": "object",      # UTC, ISO 8601
}


@dataclass(frozen=True, slots=True)
class SavedPolygon:
    """One row of an output layer: a polygon in the layer's CRS and its FIELDS."""

    geometry: Polygon
    group_id: str
    group_size: int
    area: float
    fg_points: int
    bg_points: int
    box_used: int
    score: float
    model: str
    source: str
    created: str

    def properties(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}


def driver_for(path: str | os.PathLike) -> str:
    """The format of `path`, from its extension; OutputLayerError for an unknown one."""
    suffix = Path(path).suffix.lower()
    if suffix not in DRIVERS:
        raise OutputLayerError(
            f"unknown output extension {suffix or '(none)'!r} in '{path}'; "
            f"use one of {', '.join(DRIVERS)}"
        )
    return DRIVERS[suffix]


class OutputLayer:
    """A polygon layer on disk, created on first save in `crs`; an existing one must have samscape's
    fields and the same CRS, or it is refused and left untouched. Thread-safe."""

    def __init__(self, path: str | os.PathLike, crs: CRS) -> None:
        self.path = Path(path)
        self.driver = driver_for(self.path)
        self.crs = crs
        self._lock = threading.Lock()
        if self.path.exists():
            self._check_existing()
        elif not self.path.parent.is_dir():
            raise OutputLayerError(f"folder '{self.path.parent}' of the output layer does not exist")

    @staticmethod
    def crs_of(path: str | os.PathLike) -> CRS | None:
        """The CRS of the existing layer at `path`; None if there is no file or it has no CRS."""
        path = Path(path)
        if not path.exists():
            return None
        try:
            crs_text = _describe(path, driver_for(path))[1]
        except OutputLayerError:
            raise
        except Exception as exc:
            raise OutputLayerError(f"'{path}' cannot be read as a layer ({exc}); choose a new "
                                   "file name") from None
        return CRS.from_user_input(crs_text) if crs_text else None

    def _check_existing(self) -> None:
        try:
            fields, crs_text, geometry_type, count = _describe(self.path, self.driver)
        except Exception as exc:
            raise OutputLayerError(
                f"'{self.path}' exists but cannot be read as a {self.driver} layer ({exc}); "
                "choose a new file name"
            ) from None
        if set(fields) != set(FIELDS) and not (count == 0 and not fields):
            missing = sorted(set(FIELDS) - set(fields))
            extra = sorted(set(fields) - set(FIELDS))
            raise OutputLayerError(
                f"'{self.path}' has another schema (missing: {', '.join(missing) or 'none'}; "
                f"extra: {', '.join(extra) or 'none'}); it is left untouched: choose a new file"
            )
        if geometry_type not in ("Polygon", "MultiPolygon", "Unknown"):
            raise OutputLayerError(f"'{self.path}' holds {geometry_type} geometries, not polygons; "
                                   "choose a new file")
        if not crs_text or CRS.from_user_input(crs_text) != self.crs:
            theirs = crs_label(CRS.from_user_input(crs_text)) if crs_text else "none"
            raise OutputLayerError(
                f"'{self.path}' is in CRS {theirs}, not {crs_label(self.crs)}; it is left "
                f"untouched: choose a new file, or pass --out-crs {theirs}"
            )

    def read(self) -> list[SavedPolygon]:
        """Every row of the layer, in file order ([] if the file does not exist yet)."""
        with self._lock:
            return self._read()

    def append(self, rows: Sequence[SavedPolygon]) -> None:
        with self._lock:
            self._write(self._read() + list(rows))

    def remove_group(self, group_id: str) -> int:
        """Delete the rows of one save; returns how many were removed."""
        with self._lock:
            rows = self._read()
            kept = [r for r in rows if r.group_id != group_id]
            if len(kept) != len(rows):
                self._write(kept)
            return len(rows) - len(kept)

    def contents(self) -> dict[str, bytes]:
        """The layer's files by name, read together ({} before the first save; a Shapefile has
        several)."""
        with self._lock:
            if not self.path.exists():
                return {}
            parts = [self.path] + sorted(p for p in self.path.parent.glob(f"{glob.escape(self.path.stem)}.*")
                                         if p != self.path)
            if self.driver != "ESRI Shapefile":
                parts = parts[:1]
            return {p.name: p.read_bytes() for p in parts}

    def _read(self) -> list[SavedPolygon]:
        if not self.path.exists():
            return []
        if self.driver == "GeoParquet":
            table = pq.read_table(self.path)
            geometries = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
            columns = {name: table.column(name).to_pylist() for name in FIELDS}
        else:
            # GeoJSON would otherwise turn the ISO times into naive datetimes
            options = {"DATE_AS_STRING": "YES"} if self.driver == "GeoJSON" else {}
            meta, _, wkb, values = pyogrio.raw.read(self.path, **options)
            geometries = shapely.from_wkb(wkb)
            columns = {name: v.tolist() for name, v in zip(meta["fields"], values, strict=True)}
        return [
            SavedPolygon(geometry, **{name: columns[name][i] for name in FIELDS})
            for i, geometry in enumerate(geometries)
        ]

    def _write(self, rows: list[SavedPolygon]) -> None:
        token = uuid.uuid4().hex[:8]
        tmp = self.path.with_name(f".{self.path.stem}-{token}{self.path.suffix}")
        try:
            if self.driver == "GeoParquet":
                _write_geoparquet(tmp, rows, self.crs)
            else:
                _write_ogr(tmp, rows, self.crs, self.driver, layer=self.path.stem)
            for part in sorted(tmp.parent.glob(f"{glob.escape(tmp.stem)}.*")):
                os.replace(part, self.path.with_suffix(part.suffix))
        finally:
            for part in tmp.parent.glob(f"{glob.escape(tmp.stem)}.*"):
                part.unlink(missing_ok=True)


def _describe(path: Path, driver: str) -> tuple[list[str], str | None, str, int]:
    """(field names, CRS as text, geometry type, feature count) of an existing layer."""
    if driver == "GeoParquet":
        schema = pq.read_schema(path)
        geo = json.loads((schema.metadata or {}).get(b"geo", b"{}"))
        column = geo.get("columns", {}).get("geometry", {})
        crs = column.get("crs")
        types = column.get("geometry_types") or ["Unknown"]
        return ([n for n in schema.names if n != "geometry"],
                ProjCRS.from_json_dict(crs).to_wkt() if crs else None, types[0],
                pq.read_metadata(path).num_rows)
    info = pyogrio.read_info(path)
    return list(info["fields"]), info["crs"], info["geometry_type"], info["features"]


def _columns(rows: list[SavedPolygon]) -> dict[str, np.ndarray]:
    return {name: np.array([getattr(r, name) for r in rows], dtype=dtype)
            for name, dtype in FIELDS.items()}


def _write_ogr(path: Path, rows: list[SavedPolygon], crs: CRS, driver: str, layer: str) -> None:
    columns = _columns(rows)
    wkb = shapely.to_wkb([r.geometry for r in rows]) if rows else np.array([], dtype=object)
    pyogrio.raw.write(path, wkb, list(columns.values()), list(columns), layer=layer,
                      driver=driver, geometry_type="Polygon", crs=crs.to_wkt())


def _write_geoparquet(path: Path, rows: list[SavedPolygon], crs: CRS) -> None:
    geometries = [r.geometry for r in rows]
    table = pa.table({
        **{name: pa.array(values) for name, values in _columns(rows).items()},
        "geometry": pa.array(shapely.to_wkb(geometries).tolist() if rows else [], pa.binary()),
    })
    geo = geo_metadata(crs.to_wkt(), geometries, ["Polygon"])
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo).encode()}), path)
