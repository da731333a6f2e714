"""Output layers: saved polygons in GeoPackage, Shapefile, GeoJSON, FlatGeobuf or GeoParquet.

A GeoPackage layer ('file.gpkg' or 'file.gpkg:layer') is changed in place, so the file's other
layers, styles and metadata stay as they were, and a save takes the same time whatever the layer's
size. Every other format is rewritten to a temporary file beside it and renamed into place (a
Shapefile's parts through a journal), so a failed or killed write leaves the previous layer whole;
the rows already saved are carried over as stored columns (GeoParquet: one Arrow table), never
turned back into Python objects. Every read-modify-write holds a lock on the folder shared
by all processes, so saves from several programs all land.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
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

from ..errors import OutputLayerError, reason
from ..folderlock import FolderLock
from ..geo import crs_label, norm_crs
from ..validate import is_url
from . import gpkg, parquetlayer
from .layerfiles import check_name, check_writable, recover, swap_in, sync, temp_path, write_errors

DRIVERS = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}

# A new GeoPackage is 1.2, not GDAL 3.12's 1.4, which QGIS LTRs on GDAL 3.6 warn of on every open.
GPKG_CREATION = {"VERSION": "1.2"}

# Field name (at most 10 characters, for Shapefiles) → numpy dtype.
FIELDS: dict[str, str] = {
    "group_id": "object",     # one ULID per save
    "group_size": "int32",    # polygons in the save
    "area_m2": "float64",     # m², on the ellipsoid, whatever the layer's CRS
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
    area_m2: float
    fg_points: int
    bg_points: int
    box_used: int
    score: float
    model: str
    source: str
    created: str

    def properties(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}


_NAMED = re.compile(r"^(?P<file>.+(?P<ext>\.[A-Za-z0-9]+)):(?P<layer>[^/\\:]+)$", re.DOTALL)


def split_layer(path: str | os.PathLike) -> tuple[Path, str | None]:
    """(file, layer name) of 'file.gpkg:layer'; (path, None) without a layer name. A Windows drive
    letter ('C:\\x.gpkg') is part of the file; a layer name is only for a GeoPackage."""
    text = os.fspath(path)
    if text.endswith(":") and Path(text[:-1]).suffix.lower() in DRIVERS:
        raise OutputLayerError(f"'{text}' names no layer after ':'; give '{text}LAYER', or "
                               f"'{text[:-1]}' for its default layer")
    match = _NAMED.match(text)
    if not match or match["ext"].lower() not in DRIVERS:
        return Path(text), None
    if DRIVERS[match["ext"].lower()] != "GPKG":
        raise OutputLayerError(f"'{text}' names a layer, but only a GeoPackage holds named layers; "
                               f"use '{match['file']}' or a .gpkg file")
    return Path(match["file"]), match["layer"]


def driver_for(path: str | os.PathLike) -> str:
    """The format of `path` ('file.gpkg:layer' allowed), from its extension; OutputLayerError for
    an unknown one or a Shapefile's not in lower case."""
    file = split_layer(path)[0]
    suffix = file.suffix.lower()
    if suffix not in DRIVERS:
        raise OutputLayerError(
            f"unknown output extension {suffix or '(none)'!r} in '{path}'; "
            f"use one of {', '.join(DRIVERS)}"
        )
    if suffix == ".shp" and file.suffix != ".shp":  # GDAL would write 'name.shp', 'name.dbf', ...
        raise OutputLayerError(f"'{path}': GDAL writes a Shapefile's parts in lower case, so a save to "
                               f"{file.suffix!r} would not be found again; use '{file.with_suffix('.shp')}'")
    return DRIVERS[suffix]


class OutputLayer:
    """A polygon layer on disk, created on first save in `crs`; an existing one must have samscape's
    fields and the same CRS, or it is refused and left untouched. `path` may name a layer of a
    GeoPackage, 'file.gpkg:layer' (default: the file's stem). Safe across threads and processes."""

    def __init__(self, path: str | os.PathLike, crs: CRS | str | int) -> None:
        crs = norm_crs(crs)
        if is_url(os.fspath(path)):
            raise OutputLayerError(f"output layers are local files, not URLs like '{path}'; give a "
                                   "local file and copy it where it should go")
        self.path, layer = split_layer(path)
        if self.path.is_symlink():  # a link to a layer: the layer is saved to, the link stays
            self.path = Path(os.path.realpath(self.path))
        self.driver = driver_for(self.path)
        self.crs = crs
        check_name(str(self.path.absolute()))
        if layer is not None:
            check_name(layer, "layer name")
            gpkg.check_layer_name(layer, self.path)
        self.layer_name = layer or gpkg.default_layer(self.path)
        if self.driver == "GPKG":
            self.layer_name = gpkg.existing_name(self.path, self.layer_name)
        self.label = f"{self.path}:{self.layer_name}" if self.driver == "GPKG" else str(self.path)
        if not self.path.parent.is_dir():
            raise OutputLayerError(f"folder '{self.path.parent}' of the output layer does not exist; "
                                   "make it first, or choose another folder")
        check_writable(self.path.parent)
        self._gdal_path = self.path.absolute()
        self._lock = FolderLock(self.path.parent)
        with self._held():
            self._recover()
            self._check_existing()

    def _held(self) -> AbstractContextManager[None]:
        """The folder's lock; OutputLayerError if the folder was removed since the layer was
        chosen."""
        if not self.path.parent.is_dir():
            raise OutputLayerError(f"folder '{self.path.parent}' of the output layer no longer exists; "
                                   "choose another output layer, or make the folder again")
        return self._lock.held()

    def _recover(self) -> None:
        """Finish or undo what a killed save left (call with the lock held)."""
        recover(self.path)
        if self.driver == "GPKG":
            gpkg.roll_back(self._gdal_path)
            gpkg.drop_unfinished(self._gdal_path, self.layer_name)

    @staticmethod
    def crs_of(path: str | os.PathLike) -> CRS | None:
        """The CRS of the existing layer at `path`; None if there is no such layer or it has no CRS."""
        file, layer = split_layer(path)
        driver = driver_for(file)
        check_name(str(file.absolute()))
        if not file.exists():
            return None
        try:
            name = layer or gpkg.default_layer(file)
            if driver == "GPKG":
                gpkg.roll_back(file.absolute())
                found = gpkg.matching(gpkg.layer_names(file), name)
                if found is None:
                    return None
                name = found
            crs_text = _describe(file.absolute(), driver, name)[1]
        except Exception as exc:
            raise OutputLayerError(f"'{path}' cannot be read as a layer ({reason(exc)}); choose a new "
                                   "file name") from None
        return CRS.from_user_input(crs_text) if crs_text else None

    def _exists(self) -> bool:
        if not self.path.exists():
            return False
        return self.driver != "GPKG" or self.layer_name in gpkg.layer_names(self._gdal_path)

    def _check_existing(self) -> bool:
        """Refuse (untouched) an existing layer of another kind; call with the lock held. Returns
        whether the layer exists."""
        try:
            if not self._exists():
                return False
            fields, crs_text, geometry_type, count = _describe(self._gdal_path, self.driver,
                                                               self.layer_name)
        except Exception as exc:
            raise OutputLayerError(
                f"'{self.label}' exists but cannot be read as an output layer ({reason(exc)}); "
                "choose a new file name"
            ) from None
        missing = sorted(set(FIELDS) - set(fields))
        extra = sorted(set(fields) - set(FIELDS))
        if (missing, extra) == (["area_m2"], ["area"]):
            raise OutputLayerError(f"'{self.label}' was written by an older samscape (field 'area' "
                                   "in map units, not 'area_m2'); it is left untouched: choose a "
                                   "new file or layer")
        # fields of the user's own (a class added in QGIS) are kept in a GeoPackage: NULL in new rows
        own_fields = extra and not missing and self.driver == "GPKG"
        if (missing or extra) and not own_fields and not (count == 0 and not fields):
            parts = ([f"lacks samscape's fields {', '.join(missing)}"] if missing else []) + \
                ([f"has fields of its own ({', '.join(extra)})"] if extra else [])
            fix = ("choose a new file or layer ('file.gpkg:layer')" if self.driver == "GPKG" else
                   "choose a new file, or a GeoPackage, which keeps fields of your own" if not missing
                   else "choose a new file")
            raise OutputLayerError(f"'{self.label}' {' and '.join(parts)}; it is left untouched: {fix}")
        if geometry_type not in ("Polygon", "MultiPolygon", "Unknown"):
            raise OutputLayerError(f"'{self.label}' holds {geometry_type} geometries, not polygons; "
                                   "choose a new file")
        if not crs_text or CRS.from_user_input(crs_text) != self.crs:
            theirs = crs_label(CRS.from_user_input(crs_text)) if crs_text else "none"
            raise OutputLayerError(
                f"'{self.label}' is in CRS {theirs}, not {crs_label(self.crs)}; it is left "
                f"untouched: choose a new file, or pass --out-crs {theirs}"
            )
        return True

    def read(self) -> list[SavedPolygon]:
        """Every row of the layer, in file order ([] if it does not exist yet)."""
        with self._held():
            self._recover()
            return self._read()

    def append(self, rows: Sequence[SavedPolygon]) -> None:
        """Add `rows` after the layer's rows. A GeoPackage gets them in place (one SQLite
        transaction); other formats are rewritten, from their columns as stored."""
        rows = list(rows)
        with self._held():
            self._recover()
            exists = self._check_existing()
            if self.driver == "GPKG" and exists:
                with write_errors(self.path):
                    gpkg.append_rows(self._gdal_path, self.layer_name, *_columns(rows))
            elif self.driver == "GPKG" and self.path.exists():  # a new layer beside others
                with write_errors(self.path):
                    _write_ogr(self._gdal_path, *_columns(rows), self.crs, self.driver, self.layer_name,
                               append=True, description=gpkg.UNFINISHED)
                    gpkg.index_groups(self._gdal_path, self.layer_name)
                    gpkg.finish_first_save(self._gdal_path, self.layer_name)
            elif self.driver == "GeoParquet":
                old = parquetlayer.read(self._gdal_path) if exists else None
                self._write_parquet(*parquetlayer.appended(old, parquetlayer.table_of(*_columns(rows))))
            else:
                wkb, columns = self._read_columns()
                new_wkb, new_columns = _columns(rows)
                self._rewrite_ogr(np.concatenate([wkb, new_wkb]), {
                    name: np.concatenate([columns[name], new_columns[name]]) for name in FIELDS})

    def remove_group(self, group_id: str) -> int:
        """Delete the rows of one save; returns how many were removed."""
        with self._held():
            self._recover()
            if not self._exists():
                return 0
            if self.driver == "GPKG":
                with write_errors(self.path):
                    return gpkg.delete_group(self._gdal_path, self.layer_name, group_id)
            if self.driver == "GeoParquet":
                table = parquetlayer.read(self._gdal_path)
                kept, bbox = parquetlayer.without_group(table, group_id)
                if len(kept) != len(table):
                    self._write_parquet(kept, bbox)
                return len(table) - len(kept)
            wkb, columns = self._read_columns()
            keep = columns["group_id"] != group_id
            if not keep.all():
                self._rewrite_ogr(wkb[keep], {name: values[keep] for name, values in columns.items()})
            return int((~keep).sum())

    def contents(self) -> dict[str, bytes]:
        """The layer's files by name, read together ({} before the first save; a Shapefile has
        several; a GeoPackage is the whole file, its other layers included)."""
        with self._held():
            self._recover()
            if not self._exists():
                return {}
            parts = [self.path] + sorted(p for p in self.path.parent.glob(f"{glob.escape(self.path.stem)}.*")
                                         if p != self.path)
            if self.driver != "ESRI Shapefile":
                parts = parts[:1]
            return {p.name: p.read_bytes() for p in parts}

    def _read(self) -> list[SavedPolygon]:
        wkb, columns = self._read_columns()
        values = {name: columns[name].tolist() for name in FIELDS}
        return [SavedPolygon(geometry, **{name: values[name][i] for name in FIELDS})
                for i, geometry in enumerate(shapely.from_wkb(wkb))]

    def _read_columns(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(N WKB geometries, FIELDS → N values in the field's dtype) of the layer as stored."""
        if not self._exists():
            return _columns([])
        if self.driver == "GeoParquet":
            table = parquetlayer.read(self._gdal_path)
            wkb = table.column("geometry").to_numpy(zero_copy_only=False)
            found = {name: table.column(name).to_numpy(zero_copy_only=False) for name in FIELDS}
        else:
            # GeoJSON would otherwise turn the ISO times into naive datetimes
            options = {"DATE_AS_STRING": "YES"} if self.driver == "GeoJSON" else {}
            layer = {"layer": self.layer_name} if self.driver == "GPKG" else {}
            meta, _, wkb, values = pyogrio.raw.read(self._gdal_path, **layer, **options)
            found = dict(zip(meta["fields"], values, strict=True))
        # an empty GeoJSON has no fields: GDAL finds them from the features
        return wkb, {name: np.asarray(found.get(name, ()), dtype=dtype) for name, dtype in FIELDS.items()}

    def _rewrite_ogr(self, wkb: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        """The whole layer as these N rows (N WKB geometries, FIELDS → N values)."""
        def write(tmp: Path) -> None:
            _write_ogr(tmp, wkb, columns, self.crs, self.driver, self.layer_name)
            if self.driver == "GPKG":  # a new GeoPackage
                gpkg.index_groups(tmp, self.layer_name)

        self._replace(write, len(wkb))

    def _write_parquet(self, table: pa.Table, bbox: list[float] | None) -> None:
        self._replace(lambda tmp: parquetlayer.write(tmp, table, self.crs.to_wkt(), bbox), len(table))

    def _replace(self, write: Callable[[Path], None], count: int) -> None:
        """The layer replaced by the `count` features `write` puts in a temporary file, renamed
        into place once read back (a new GeoPackage too, so that a killed first save leaves no
        half-made file)."""
        tmp = temp_path(self._gdal_path)
        try:
            with write_errors(self.path):
                write(tmp)
                self._check_whole(tmp, count)
                swap_in(tmp, self._gdal_path)
        finally:
            recover(self._gdal_path)  # a swap under way is finished; other temporaries removed

    def _check_whole(self, tmp: Path, count: int) -> None:
        """OSError unless the temporary `tmp` is on disk and holds `count` features: GDAL loses a
        write error at close (a GeoJSON or FlatGeobuf on a full disk comes out empty or cut)."""
        sync(tmp)
        try:
            written = _describe(tmp, self.driver, self.layer_name, count=True)[3]
        except Exception:
            written = None
        if written != count:
            found = "cannot be read back" if written is None else f"holds {written} of {count} features"
            raise OSError(f"the file written {found}")


def _describe(path: Path, driver: str, layer: str,
              count: bool = False) -> tuple[list[str], str | None, str, int]:
    """(field names, CRS as text, geometry type, feature count) of an existing layer; the count is
    -1 where the format does not store it (an empty FlatGeobuf) unless `count` makes GDAL count."""
    if driver == "GeoParquet":
        schema = pq.read_schema(path)
        geo = json.loads((schema.metadata or {}).get(b"geo", b"{}"))
        column = geo.get("columns", {}).get("geometry", {})
        crs = column.get("crs")
        types = column.get("geometry_types") or ["Unknown"]
        return ([n for n in schema.names if n != "geometry"],
                ProjCRS.from_json_dict(crs).to_wkt() if crs else None, types[0],
                pq.read_metadata(path).num_rows)
    info = pyogrio.read_info(path, layer=layer if driver == "GPKG" else None, force_feature_count=count)
    return list(info["fields"]), info["crs"], info["geometry_type"], info["features"]


def _columns(rows: list[SavedPolygon]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(N WKB geometries, FIELDS → N values) of `rows`."""
    wkb = shapely.to_wkb([r.geometry for r in rows]) if rows else np.array([], dtype=object)
    return wkb, {name: np.array([getattr(r, name) for r in rows], dtype=dtype)
                 for name, dtype in FIELDS.items()}


def _write_ogr(path: Path, wkb: np.ndarray, columns: dict[str, np.ndarray], crs: CRS, driver: str,
               layer: str, append: bool = False, description: str | None = None) -> None:
    pyogrio.raw.write(path, wkb, list(columns.values()), list(columns), layer=layer,
                      driver=driver, geometry_type="Polygon", crs=crs.to_wkt(), append=append,
                      dataset_options=GPKG_CREATION if driver == "GPKG" else None,
                      layer_options=None if description is None else {"DESCRIPTION": description})
