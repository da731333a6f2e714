"""A GeoParquet layer as one Arrow table: rows appended or removed without turning the rows already
saved into Python objects and without parsing their geometries.

Parquet keeps its index (the footer) at the end of the file, so a change cannot be written in place
without a moment where a kill leaves a broken file: each change is a new file that the caller renames
into place. Done in Arrow, that costs a few milliseconds per 10 000 rows (a dataset of one file per
save would append in O(1), but a layer would no longer be the one `.parquet` file a user opens).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely

from ..geo.geoparquet import geo_metadata

Bbox = list[float]  # [xmin, ymin, xmax, ymax] in the layer's CRS


def read(path: Path) -> pa.Table:
    """The whole layer: its fields and a WKB `geometry` column, in file order."""
    return pq.ParquetFile(path).read(use_threads=False)


def table_of(wkb: np.ndarray, columns: dict[str, np.ndarray]) -> pa.Table:
    """N rows as a table: one column per field (numpy arrays of N values), then `geometry` (the N
    WKB geometries)."""
    return pa.table({**{name: pa.array(values) for name, values in columns.items()},
                     "geometry": pa.array(wkb.tolist(), pa.binary())})


def stored_bbox(table: pa.Table) -> Bbox | None:
    """The bounding box the file's `geo` metadata records (None for an empty layer)."""
    geo = json.loads((table.schema.metadata or {}).get(b"geo", b"{}"))
    bbox = geo.get("columns", {}).get("geometry", {}).get("bbox")
    return [float(v) for v in bbox] if bbox and len(table) else None


def bbox_of(wkb: np.ndarray | pa.ChunkedArray) -> Bbox | None:
    """The bounding box of WKB geometries (parsed: O(rows)); None if there are none."""
    values = wkb.to_pylist() if isinstance(wkb, pa.ChunkedArray) else wkb.tolist()
    if not values:
        return None
    return [float(v) for v in shapely.total_bounds(shapely.from_wkb(values))]


def union(a: Bbox | None, b: Bbox | None) -> Bbox | None:
    if a is None or b is None:
        return a or b
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def appended(old: pa.Table | None, new: pa.Table) -> tuple[pa.Table, Bbox | None]:
    """`old`'s rows then `new`'s (cast to `old`'s schema), and their bounding box: `old`'s recorded
    one grown by `new`'s geometries, so the rows already saved are not parsed."""
    bbox = bbox_of(new["geometry"])
    if old is None:
        return new, bbox
    if stored_bbox(old) is None and len(old):
        bbox = union(bbox, bbox_of(old["geometry"]))
    else:
        bbox = union(stored_bbox(old), bbox)
    return pa.concat_tables([old, new.select(old.schema.names).cast(old.schema)]), bbox


def without_group(table: pa.Table, group_id: str) -> tuple[pa.Table, Bbox | None]:
    """The rows of every save but `group_id`, and their bounding box: the recorded one while the
    removed rows lie strictly inside it (other rows hold each of its edges), else recomputed."""
    match = pc.fill_null(pc.equal(table["group_id"], group_id), False)
    kept = table.filter(pc.invert(match))
    stored, removed = stored_bbox(table), bbox_of(table.filter(match)["geometry"])
    if stored is not None and removed is not None and (
            removed[0] > stored[0] and removed[1] > stored[1]
            and removed[2] < stored[2] and removed[3] < stored[3]):
        return kept, stored
    return kept, bbox_of(kept["geometry"])


def write(path: Path, table: pa.Table, crs_wkt: str, bbox: Bbox | None) -> None:
    """`table` as a GeoParquet 1.1 file of Polygons in `crs_wkt`, with `bbox` as its extent."""
    geo = geo_metadata(crs_wkt, [], ["Polygon"])
    if bbox is not None:
        geo["columns"]["geometry"]["bbox"] = bbox
    pq.write_table(table.replace_schema_metadata({b"geo": json.dumps(geo).encode()}), path)
