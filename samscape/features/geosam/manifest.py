"""Geo-SAM v2's `manifest.parquet`: recognised, read and checked (without pandas), and written as
`geosam.engines.FeatureCacheBuilder` writes it (GeoParquet, one row per chip).

The 12 columns (`geosam.engines.MANIFEST_REQUIRED_COLUMNS`), in the order Geo-SAM writes them:
`feature_path` (absolute path of the chip file), `chip_id` ("chip_%06d", row-major over its chip
grid), `source_path`, `checkpoint_path`, `model_type` ("sam", "sam2", "sam3") as text;
`transform` JSON `[a, b, c, d, e, f]` and `shape` JSON `[height, width]` of the chip's pixels;
`crs` text ("EPSG:n" or WKT); `dst_shape` JSON `[S, S]`, the model's input size;
`chip_center_x`, `chip_center_y` doubles; `geometry` the chip's box (WKB).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from affine import Affine

from ...errors import FeatureFolderError, reason
from ...geo.chips import MAX_CHIPS
from ...geo.geoparquet import geo_metadata
from ..temporaries import temporary_for

MANIFEST = "manifest.parquet"
ORIGIN_KEY = b"samscape-origin"  # the samscape folder's metadata (JSON) a folder was converted from
COLUMNS = ("feature_path", "chip_id", "source_path", "checkpoint_path", "model_type", "transform",
           "shape", "crs", "dst_shape", "chip_center_x", "chip_center_y", "geometry")
_TEXT = COLUMNS[:9]
_CHIP_ID = re.compile(r"chip_(\d{1,9})")
FIX = "encode the raster again (with samscape, or with Geo-SAM)"


@dataclass(frozen=True, slots=True)
class GeosamRow:
    """One chip of a Geo-SAM manifest: its number, the chip file's name, its pixels' transform and
    (height, width), and the folder-wide values (checked equal on every row)."""

    number: int
    file_name: str
    transform: Affine
    shape: tuple[int, int]
    source_path: str
    checkpoint_path: str
    model_type: str
    crs: str
    dst_shape: tuple[int, int]


def is_geosam_manifest(path: Path) -> bool:
    """Whether `path` is a parquet file with Geo-SAM's columns and no samscape metadata."""
    try:
        schema = pq.read_schema(path)
    except Exception:
        return False
    return set(COLUMNS) <= set(schema.names) and b"samscape" not in (schema.metadata or {})


def is_geosam_folder(folder: str | os.PathLike) -> bool:
    return is_geosam_manifest(Path(folder) / MANIFEST)


def is_geosam_v1_folder(folder: str | os.PathLike) -> bool:
    """A Geo-SAM v1 feature folder: GeoTIFF features `sam_feat_*.tif` with a CSV index, or the
    folder above such folders."""
    root = Path(folder)
    try:
        if any(root.glob("sam_feat_*.tif")) or any(p.is_dir() for p in root.glob("sam_feat_*")):
            return True
        for csv in root.glob("*.csv"):
            with csv.open(encoding="utf-8", errors="replace") as f:
                header = f.readline()
            if {"minx", "maxx", "miny", "maxy", "filepath"} <= {c.strip() for c in header.split(",")}:
                return True
    except OSError:
        return False
    return False


def _json_ints(value: str, count: int) -> tuple[int, ...]:
    parsed = json.loads(value)
    if (not isinstance(parsed, list) or len(parsed) != count
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1 << 20 for v in parsed)):
        raise ValueError(f"{value[:40]!r} is not {count} positive whole numbers")
    return tuple(parsed)


def _json_transform(value: str) -> Affine:
    parsed = json.loads(value)
    if (not isinstance(parsed, list) or len(parsed) != 6
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                       for v in parsed)):
        raise ValueError(f"transform {value[:60]!r} is not 6 finite numbers")
    a, b, _, d, e, _ = parsed
    if a == 0 or e == 0 or b != 0 or d != 0:
        raise ValueError(f"transform {parsed} is not a north-up grid")
    return Affine(*parsed)


def _file_name(path: str) -> str:
    """The chip file's name (the manifest's absolute path is not followed: see `GeosamFolder`)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if not re.fullmatch(r"[\w.\-]{1,200}\.pt", name) or name.startswith("."):
        raise ValueError(f"feature_path {path[:80]!r} does not name a .pt chip file")
    return name


def read_geosam_manifest(folder: Path) -> list[GeosamRow]:
    """The rows of a Geo-SAM manifest, each checked; FeatureFolderError naming the first fault."""
    path = folder / MANIFEST
    try:
        with pq.ParquetFile(path) as manifest:
            if manifest.metadata.num_rows > MAX_CHIPS:
                raise ValueError(f"it lists {manifest.metadata.num_rows:,} chips, more than {MAX_CHIPS:,}")
            table = manifest.read(columns=list(_TEXT))
        columns = table.to_pydict()
    except Exception as exc:
        first = reason(exc)
        raise FeatureFolderError(f"'{path}' is not a readable Geo-SAM manifest ({first}); {FIX}") from None
    rows = []
    for i in range(table.num_rows):
        row = {name: columns[name][i] for name in _TEXT}
        try:
            if not all(isinstance(v, str) for v in row.values()):
                raise ValueError("a text column holds no text")
            match = _CHIP_ID.fullmatch(row["chip_id"])
            if match is None:
                raise ValueError(f"chip_id {row['chip_id'][:40]!r} is not chip_NNNNNN")
            height, width = _json_ints(row["shape"], 2)
            rows.append(GeosamRow(
                int(match.group(1)), _file_name(row["feature_path"]), _json_transform(row["transform"]),
                (height, width), row["source_path"], row["checkpoint_path"], row["model_type"],
                row["crs"], _json_ints(row["dst_shape"], 2)))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            raise FeatureFolderError(f"'{path}' row {i} is not valid ({exc}); {FIX}") from None
    if not rows:
        raise FeatureFolderError(f"'{path}' lists no chips; {FIX}")
    head = rows[0]
    for i, r in enumerate(rows):
        for field in ("checkpoint_path", "model_type", "crs", "dst_shape", "source_path"):
            if getattr(r, field) != getattr(head, field):
                raise FeatureFolderError(f"'{path}' row {i} has another {field} than row 0; "
                                         f"samscape opens folders of one raster and model; {FIX}")
    return rows


def read_origin(folder: Path) -> str | None:
    """The samscape metadata (JSON) a converted folder's manifest keeps under `ORIGIN_KEY`."""
    try:
        value = (pq.read_schema(folder / MANIFEST).metadata or {}).get(ORIGIN_KEY)
    except Exception:
        return None
    return None if value is None else value.decode("utf-8", "replace")


def write_geosam_manifest(folder: Path, rows: list[GeosamRow], feature_dir: str, crs_wkt: str,
                          origin: str | None = None) -> None:
    """Write `folder`/manifest.parquet atomically, as Geo-SAM does: its 12 columns in its order,
    text columns as strings, `feature_path` = `feature_dir`/<file name> (joined with a backslash
    when `feature_dir` is a Windows path), GeoParquet metadata; and `origin`, the metadata of the
    samscape folder it was converted from, under `ORIGIN_KEY`, which Geo-SAM does not read."""
    separator = "\\" if "\\" in feature_dir else "/"
    boxes, centers = [], []
    for r in rows:
        x0, y0 = r.transform @ (0, 0)
        x1, y1 = r.transform @ (r.shape[1], r.shape[0])
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        boxes.append(shapely.box(*box))
        centers.append(((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0))
    table = pa.table({
        "feature_path": [f"{feature_dir}{separator}{r.file_name}" for r in rows],
        "chip_id": [f"chip_{r.number:06d}" for r in rows],
        "source_path": [r.source_path for r in rows],
        "checkpoint_path": [r.checkpoint_path for r in rows],
        "model_type": [r.model_type for r in rows],
        "transform": [json.dumps(list(r.transform)[:6]) for r in rows],
        "shape": [json.dumps(list(r.shape)) for r in rows],
        "crs": [r.crs for r in rows],
        "dst_shape": [json.dumps(list(r.dst_shape)) for r in rows],
        "chip_center_x": pa.array([c[0] for c in centers], pa.float64()),
        "chip_center_y": pa.array([c[1] for c in centers], pa.float64()),
        "geometry": pa.array(shapely.to_wkb(boxes).tolist() if boxes else [], pa.binary()),
    })
    geo = geo_metadata(crs_wkt, boxes, ["Polygon"])
    extra = {} if origin is None else {ORIGIN_KEY: origin.encode()}
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode(), **extra})
    tmp = temporary_for(folder / MANIFEST)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, folder / MANIFEST)
    finally:
        tmp.unlink(missing_ok=True)
