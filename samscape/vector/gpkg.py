"""A layer inside a GeoPackage, changed in place: a save's rows appended with one SQL INSERT, a save
removed with one SQL DELETE, each in one SQLite transaction, so a kill leaves the old or the new
layer. The file is never rewritten: the other layers, styles and metadata of a user's project stay
exactly as they were, and a save costs the same at the 10 000th object as at the first. (GDAL
creates the layer; appending through GDAL took five transactions, each with its fsyncs.)"""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from ..errors import OutputLayerError

# GDAL refuses GeoPackage layer names that start with one of these.
_GDAL_BAD_START = "`~!@#$%^&*()+-={}|[]\\:\";'<>?,./"
_RESERVED = re.compile(r"^(gpkg|rtree_|sqlite_)", re.IGNORECASE)  # GDAL refuses any gpkg…


def default_layer(path: Path) -> str:
    """The file stem without the leading characters GDAL refuses; 'polygons' if none is left or
    the stem is a reserved name (gpkg…, rtree_…, sqlite_…)."""
    stem = path.stem.lstrip(_GDAL_BAD_START)
    return "polygons" if not stem or _RESERVED.match(stem) else stem


def check_layer_name(name: str, path: Path) -> None:
    if _RESERVED.match(name):
        raise OutputLayerError(f"the layer name {name!r} is reserved in a GeoPackage (gpkg…, rtree_… "
                               f"and sqlite_… names are its own); choose another: '{path}:objects'")
    if name[0] in _GDAL_BAD_START:
        raise OutputLayerError(f"GeoPackage layer names cannot start with {name[0]!r}, got {name!r}; "
                               f"choose another: '{path}:objects'")


def layer_names(path: Path) -> list[str]:
    """The layers of an existing GeoPackage (GDAL's list: tables with or without geometries; none
    in a GeoPackage of raster tiles only, which GDAL does not open as vector data)."""
    try:
        return [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except pyogrio.errors.DataSourceError:
        if _tiles_only(path):
            return []
        raise


def _tiles_only(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            kinds = {kind for (kind,) in db.execute("SELECT DISTINCT data_type FROM gpkg_contents")}
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return kinds <= {"tiles", "2d-gridded-coverage"}


def matching(names: list[str], name: str) -> str | None:
    """The layer of `names` that `name` names: SQLite, and so a GeoPackage, ignores the case of
    table names ('roads' is the layer 'Roads'); None if there is none."""
    return next((n for n in names if n.casefold() == name.casefold()), None)


def existing_name(path: Path, name: str) -> str:
    """`name` as an existing layer of `path` spells it (`matching`), else `name`."""
    try:
        names = layer_names(path) if path.exists() else []
    except Exception:  # an unreadable file: the caller's checks say so
        return name
    return matching(names, name) or name


def roll_back(path: Path) -> None:
    """Undo the transaction a killed save left in `path`'s rollback journal, if any. SQLite does so
    on the next read-write open, but GDAL opens a file read-only to describe it, and a read-only
    connection cannot: the layer would look unreadable until something wrote to it. Best effort:
    where SQLite cannot (a read-only folder), describing the layer reports it."""
    if not (path.exists() and Path(f"{path}-journal").exists()):
        return
    db = sqlite3.connect(path, timeout=60)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        pass
    finally:
        db.close()


UNFINISHED = "samscape: first save not finished"
"""A new layer's description in gpkg_contents until its first save committed: GDAL creates the
table before it inserts the rows, so a kill between the two would leave an empty layer."""


def finish_first_save(path: Path, layer: str) -> None:
    """Clear `layer`'s UNFINISHED mark, its first save being committed."""
    db = sqlite3.connect(path, timeout=60)
    try:
        with db:
            db.execute("UPDATE gpkg_contents SET description = '' WHERE lower(table_name) = lower(?) "
                       "AND description = ?", (layer, UNFINISHED))
    finally:
        db.close()


def drop_unfinished(path: Path, layer: str) -> None:
    """Undo a new `layer` whose first save was killed (still marked UNFINISHED): dropped with its
    spatial index and metadata rows if it holds no row, else only unmarked. Nothing else in the
    file is touched. Best effort, as `roll_back`."""
    if not path.exists():
        return
    db = sqlite3.connect(path, timeout=60)
    try:
        with db:
            found = db.execute("SELECT c.table_name, g.column_name FROM gpkg_contents c JOIN "
                               "gpkg_geometry_columns g ON lower(g.table_name) = lower(c.table_name) "
                               "WHERE lower(c.table_name) = lower(?) AND c.description = ?",
                               (layer, UNFINISHED)).fetchone()
            if found is None:
                return
            name, column = found
            if db.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0]:
                db.execute("UPDATE gpkg_contents SET description = '' WHERE table_name = ?", (name,))
                return
            db.execute(f"DROP TABLE IF EXISTS {_quoted(f'rtree_{name}_{column}')}")
            db.execute(f"DROP TABLE {_quoted(name)}")  # its triggers go with it
            tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in ("gpkg_extensions", "gpkg_ogr_contents", "gpkg_geometry_columns", "gpkg_contents"):
                if table in tables:
                    db.execute(f"DELETE FROM {table} WHERE lower(table_name) = lower(?)", (name,))
    except sqlite3.Error:
        pass
    finally:
        db.close()


def index_groups(path: Path, layer: str) -> None:
    """Index `layer`'s `group_id` (if not yet), so that a delete finds a save's rows without
    reading every row's geometry, which SQLite stores before the fields. The index belongs to the
    layer's table; SQLite keeps it up to date on every insert. Best effort: where it cannot be
    made (a full disk), a delete reads every row, and the next one tries again."""
    db = sqlite3.connect(path, timeout=60)
    try:
        db.execute(f"CREATE INDEX IF NOT EXISTS {_quoted(f'samscape_{layer}_group_id')} "
                   f"ON {_quoted(layer)} (group_id)")
    except sqlite3.Error:
        pass
    finally:
        db.close()


def delete_group(path: Path, layer: str, group_id: str) -> int:
    """Delete the rows of one save from `layer`; returns how many. GeoPackage triggers keep the
    spatial index and the feature count in step; nothing else in the file is touched. A layer
    without the `group_id` index (one an older samscape made) gets it first, once."""
    index_groups(path, layer)
    quoted = _quoted(layer)
    db = sqlite3.connect(path, timeout=60)
    try:
        with db:
            removed = db.execute(f"DELETE FROM {quoted} WHERE group_id = ?", (group_id,)).rowcount
            if removed:
                db.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', "
                           "'now') WHERE lower(table_name) = lower(?)", (layer,))
                _shrink_extent(db, layer)
                # the exact count, also should a killed GDAL have left its count triggers dropped
                db.execute(f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM "
                           f"{quoted}) WHERE lower(table_name) = lower(?)", (layer,))
    finally:
        db.close()
    return removed


def _shrink_extent(db: sqlite3.Connection, layer: str) -> None:
    """Set `layer`'s extent in gpkg_contents (what GDAL and QGIS zoom to) to that of its rows, from
    its spatial index (float32 boxes, rounded outwards); NULL when no row is left. Without an
    index the extent stays as it was, too large but never too small."""
    (column,) = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE "
                           "lower(table_name) = lower(?)", (layer,)).fetchone()
    rtree = f"rtree_{layer}_{column}"
    if db.execute("SELECT 1 FROM sqlite_master WHERE lower(name) = lower(?)", (rtree,)).fetchone():
        db.execute(f"UPDATE gpkg_contents SET (min_x, min_y, max_x, max_y) = (SELECT min(minx), "
                   f"min(miny), max(maxx), max(maxy) FROM {_quoted(rtree)}) "
                   "WHERE lower(table_name) = lower(?)", (layer,))


def append_rows(path: Path, layer: str, wkb: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    """Append N rows (N WKB geometries; field name → N values) to the existing `layer` in one
    transaction. The layer's own triggers keep its spatial index (GeoPackage rtree extension) and
    GDAL's feature count in step; its extent and last change in gpkg_contents follow."""
    if not len(wkb):
        return
    geometries = shapely.from_wkb(wkb)
    bounds = shapely.bounds(geometries)  # N x (minx, miny, maxx, maxy)
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        for name, function in _ST_FUNCTIONS.items():
            db.create_function(name, 1, function, deterministic=True)
        db.execute("BEGIN IMMEDIATE")
        try:
            column, srs_id = db.execute("SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE "
                                        "lower(table_name) = lower(?)", (layer,)).fetchone()
            blobs = [_blob(b, srs_id, box) for b, box in zip(shapely.to_wkb(geometries, byte_order=1),
                                                             bounds.tolist(), strict=True)]
            names = ", ".join(_quoted(n) for n in [column, *columns])
            marks = ", ".join("?" * (len(columns) + 1))
            values = zip(blobs, *(v.tolist() for v in columns.values()), strict=True)
            db.executemany(f"INSERT INTO {_quoted(layer)} ({names}) VALUES ({marks})", values)
            xmin, ymin, xmax, ymax = shapely.total_bounds(geometries).tolist()  # NaN: all empty
            db.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
                       "min_x = min(coalesce(min_x, ?1), coalesce(?1, min_x)), "
                       "min_y = min(coalesce(min_y, ?2), coalesce(?2, min_y)), "
                       "max_x = max(coalesce(max_x, ?3), coalesce(?3, max_x)), "
                       "max_y = max(coalesce(max_y, ?4), coalesce(?4, max_y)) "
                       "WHERE lower(table_name) = lower(?5)", (xmin, ymin, xmax, ymax, layer))
            counted = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                                 (f"trigger_insert_feature_count_{layer}",)).fetchone()
            if not counted:  # a GDAL killed mid-write can leave its count triggers dropped
                db.execute(f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM "
                           f"{_quoted(layer)}) WHERE lower(table_name) = lower(?)", (layer,))
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
    finally:
        db.close()


def _blob(wkb: bytes, srs_id: int, box: Sequence[float]) -> bytes:
    """A GeoPackage geometry: header (magic, version 0, flags: little-endian, xy envelope, empty
    or not; the SRS id; minx, maxx, miny, maxy: NaN when empty) then the WKB. `box` is (minx, miny,
    maxx, maxy)."""
    flags = 0b011 | (0b10000 if np.isnan(box[0]) else 0)
    return struct.pack("<2sBBi4d", b"GP", 0, flags, srs_id, box[0], box[2], box[1], box[3]) + wkb


def _is_empty(blob: bytes | None) -> int | None:
    """ST_IsEmpty of a geometry `_blob` made."""
    return None if blob is None else int(bool(blob[3] & 0b10000))


def _coordinate(i: int) -> Callable[[bytes | None], float | None]:
    """ST_MinX (0), ST_MaxX (1), ST_MinY (2) or ST_MaxY (3) of a geometry `_blob` made: read from
    its envelope."""
    def value(blob: bytes | None) -> float | None:
        return None if blob is None or blob[3] & 0b10000 else struct.unpack_from("<d", blob, 8 + 8 * i)[0]
    return value


# The SQL functions a GeoPackage's rtree triggers call on an insert (GDAL and SpatiaLite define
# them; plain SQLite does not).
_ST_FUNCTIONS = {"ST_IsEmpty": _is_empty, "ST_MinX": _coordinate(0), "ST_MaxX": _coordinate(1),
                 "ST_MinY": _coordinate(2), "ST_MaxY": _coordinate(3)}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
