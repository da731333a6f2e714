"""`manifest.parquet`: one row per written chip, as GeoParquet with samscape metadata."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from affine import Affine
from pydantic import ValidationError

from ..errors import FeatureFolderError
from ..geo import Chip
from ..geo.geoparquet import geo_metadata
from .metadata import METADATA_KEY, FolderMetadata
from .temporaries import temporary_for

MANIFEST = "manifest.parquet"
FEATURES_DIR = "features"


def chip_relpath(chip_id: int) -> str:
    """The chip's feature file, relative to the folder, POSIX."""
    return f"{FEATURES_DIR}/chip_{chip_id:06d}.pt"


@dataclass(frozen=True, slots=True)
class ChipRecord:
    """One manifest row: where a chip is and where its features are."""

    chip_id: int
    row: int
    col: int
    width: int
    height: int
    transform: Affine
    feature_path: str

    @classmethod
    def from_chip(cls, chip: Chip) -> ChipRecord:
        return cls(chip.chip_id, chip.row, chip.col, chip.window.width, chip.window.height,
                   chip.transform, chip_relpath(chip.chip_id))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in the folder's CRS."""
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (self.width, self.height)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


_SCHEMA = pa.schema([
    ("chip_id", pa.int64()),
    ("feature_path", pa.string()),
    ("row", pa.int32()),
    ("col", pa.int32()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("transform", pa.list_(pa.float64(), 6)),
    ("res_x", pa.float64()),
    ("res_y", pa.float64()),
    ("geometry", pa.binary()),
])


def write_manifest(folder: Path, metadata: FolderMetadata, records: list[ChipRecord]) -> None:
    """Write the manifest atomically (temporary file, then rename), rows sorted by chip id."""
    records = sorted(records, key=lambda r: r.chip_id)
    boxes = [shapely.box(*r.bounds) for r in records]
    table = pa.table(
        {
            "chip_id": [r.chip_id for r in records],
            "feature_path": [r.feature_path for r in records],
            "row": [r.row for r in records],
            "col": [r.col for r in records],
            "width": [r.width for r in records],
            "height": [r.height for r in records],
            "transform": [list(r.transform)[:6] for r in records],
            "res_x": [abs(r.transform.a) for r in records],
            "res_y": [abs(r.transform.e) for r in records],
            "geometry": shapely.to_wkb(boxes).tolist() if boxes else [],
        },
        schema=_SCHEMA,
    )
    geo = geo_metadata(metadata.preprocessing.grid.crs, boxes, ["Polygon"])
    table = table.replace_schema_metadata({
        b"geo": json.dumps(geo).encode(),
        METADATA_KEY: metadata.model_dump_json().encode(),
    })
    tmp = temporary_for(folder / MANIFEST)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, folder / MANIFEST)
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(folder: Path) -> tuple[FolderMetadata, list[ChipRecord]]:
    """The metadata and rows of `folder`'s manifest; FeatureFolderError if it is not one."""
    path = folder / MANIFEST
    if not path.is_file():
        raise FeatureFolderError(
            f"'{folder}' is not a feature folder (no {MANIFEST}); create one with 'samscape encode'"
        )
    columns = ["chip_id", "row", "col", "width", "height", "transform", "feature_path"]
    try:
        with pq.ParquetFile(path) as manifest:  # pq.read_table would import pandas
            table = manifest.read(columns=columns)
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is None:
            raise ValueError("no samscape metadata (written by another tool?)")
        metadata = FolderMetadata.model_validate_json(raw)
    except ValidationError as exc:
        raise FeatureFolderError(f"'{path}' holds invalid metadata ({_first_error(exc)}); the folder "
                                 "was altered or damaged: encode the raster again") from None
    except Exception as exc:
        first = str(exc).splitlines()[0]
        raise FeatureFolderError(f"'{path}' is not a readable samscape manifest: {first}") from None
    records = [
        ChipRecord(cid, r, c, w, h, Affine(*t), fp)
        for cid, r, c, w, h, t, fp in zip(*table.to_pydict().values(), strict=True)
    ]
    _check_records(path, metadata, records)
    return metadata, records


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _check_records(path: Path, metadata: FolderMetadata, records: list[ChipRecord]) -> None:
    """Each row a distinct chip of the grid, a whole number of positive pixels in size."""
    seen: set[int] = set()
    size = metadata.preprocessing.chip_size
    for r in records:
        if not 0 <= r.chip_id < metadata.grid_chip_count or r.chip_id in seen:
            raise FeatureFolderError(
                f"'{path}' lists chip {r.chip_id}, which is not a chip of its grid of "
                f"{metadata.grid_chip_count} or is listed twice; encode the raster again")
        if not (0 < r.width <= size and 0 < r.height <= size) or not all(map(math.isfinite, r.transform)):
            raise FeatureFolderError(
                f"'{path}' gives chip {r.chip_id} a size {r.width} x {r.height} or transform that "
                "its grid cannot have; encode the raster again")
        seen.add(r.chip_id)
