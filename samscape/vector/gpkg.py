"""A layer inside a GeoPackage, changed in place: rows appended by GDAL into that layer alone, a
save removed with one SQL DELETE in a transaction. The file is never rewritten, so the other
layers, styles and metadata of a user's project stay exactly as they were."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pyogrio

from ..errors import OutputLayerError

# GDAL refuses GeoPackage layer names that start with one of these.
_GDAL_BAD_START = "`~!@#$%^&*()+-={}|[]\\:\";'<>?,./"
_RESERVED = re.compile(r"^(gpkg_|rtree_|sqlite_)", re.IGNORECASE)


def default_layer(path: Path) -> str:
    """The file stem without the leading characters GDAL refuses ('polygons' if none is left)."""
    return path.stem.lstrip(_GDAL_BAD_START) or "polygons"


def check_layer_name(name: str, path: Path) -> None:
    if _RESERVED.match(name):
        raise OutputLayerError(f"the layer name {name!r} is reserved in a GeoPackage (gpkg_, rtree_ "
                               f"and sqlite_ names are its own); choose another: '{path}:objects'")
    if name[0] in _GDAL_BAD_START:
        raise OutputLayerError(f"GeoPackage layer names cannot start with {name[0]!r}, got {name!r}; "
                               f"choose another: '{path}:objects'")


def layer_names(path: Path) -> list[str]:
    """The layers of an existing GeoPackage (GDAL's list: tables with or without geometries)."""
    return [str(name) for name in pyogrio.list_layers(path)[:, 0]]


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
                # the exact count, also should a killed GDAL have left its count triggers dropped
                db.execute(f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM "
                           f"{quoted}) WHERE lower(table_name) = lower(?)", (layer,))
    finally:
        db.close()
    return removed


def metadata(path: Path, layer: str) -> tuple[tuple | None, tuple | None]:
    """The rows of `layer` in gpkg_contents and gpkg_ogr_contents, to put back after a failed
    write (GDAL counts the features it tried to add even when their transaction rolls back)."""
    db = sqlite3.connect(path, timeout=60)
    try:
        return tuple(db.execute(f"SELECT * FROM {table} WHERE lower(table_name) = lower(?)",
                                (layer,)).fetchone() for table in ("gpkg_contents", "gpkg_ogr_contents"))
    finally:
        db.close()


def restore_metadata(path: Path, layer: str, rows: tuple[tuple | None, tuple | None]) -> None:
    """Put back what `metadata` returned; best effort (on a full disk this may fail too), and
    the feature count is in any case set to the rows really there."""
    quoted = _quoted(layer)
    db = sqlite3.connect(path, timeout=60)
    try:
        with db:
            for table, row in zip(("gpkg_contents", "gpkg_ogr_contents"), rows, strict=True):
                if row is not None:
                    marks = ", ".join("?" * len(row))
                    db.execute(f"DELETE FROM {table} WHERE lower(table_name) = lower(?)", (layer,))
                    db.execute(f"INSERT INTO {table} VALUES ({marks})", row)
            db.execute(f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM {quoted}) "
                       "WHERE lower(table_name) = lower(?)", (layer,))
    except sqlite3.Error:
        pass
    finally:
        db.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
