"""`manifest.parquet` (+ `manifest.parts/`): one row per written chip, as GeoParquet with samscape
metadata.

`manifest.parquet` holds the folder's metadata, the rows as of its writing and a token (schema
metadata `samscape-manifest`). A writer's flushes between two such writes append parts,
`manifest.parts/<token>-<first>-<last>.parquet`: the rows and skipped chips of its flushes first
to last. A reader takes the manifest plus the parts of its token, ignoring a part whose flushes
lie within another's (a kill while merging left it). Each file is written to a temporary and
renamed (in an object store: written in one PUT), so a kill leaves the old or the new state.
Folders without a token (older ones) have no parts. Every file goes through the folder's `Store`.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from ..errors import FeatureFolderError, SamscapeError
from ..geo import ChipGrid
from ..geo.geoparquet import geo_metadata
from .metadata import METADATA_KEY, FolderMetadata
from .records import (
    FEATURES_DIR,
    ROW_COLUMNS,
    ChipRecord,
    ManifestRows,
    RowError,
    chip_relpath,
    records_table,
    rows_bbox,
    rows_table,
)
from .storage import Store, open_store
from .temporaries import abandoned

__all__ = ["FEATURES_DIR", "MANIFEST", "PARTS_DIR", "ChipRecord", "ManifestJournal", "ManifestRows",
           "chip_relpath", "manifest_files", "read_manifest", "read_rows", "remove_parts",
           "write_manifest"]

MANIFEST = "manifest.parquet"
PARTS_DIR = "manifest.parts"
MANIFEST_KEY = b"samscape-manifest"
PART = re.compile(r"([0-9a-f]{16})-(\d{8,})-(\d{8,})\.parquet")
BATCH_ROWS = 65_536
READ_ATTEMPTS = 20
"""Reads of a manifest a writer changed meanwhile (a part merged away) before giving up."""


def write_manifest(folder: Path | str, metadata: FolderMetadata, records: Iterable[ChipRecord] | ManifestRows
                   ) -> None:
    """Write the whole manifest atomically: every record in `manifest.parquet`, no parts."""
    table = records.full_table() if isinstance(records, ManifestRows) else records_table(records)

    _write_base(open_store(folder), metadata, table)


def read_manifest(folder: Path | str) -> tuple[FolderMetadata, list[ChipRecord]]:
    """The metadata and rows of `folder`'s manifest, one object a row (`read_rows` keeps them as
    columns); FeatureFolderError if it is not one."""
    metadata, rows = read_rows(folder)
    return metadata, list(rows.values())


def read_rows(folder: Path | str | Store) -> tuple[FolderMetadata, ManifestRows]:
    """The metadata (skipped chips of every part included) and rows of `folder`'s manifest (a
    local path, a URL or a Store); FeatureFolderError if it is not one."""
    store = folder if isinstance(folder, Store) else open_store(folder)
    path = where(store, MANIFEST)
    if not store.exists(MANIFEST):
        store.check_bucket()
        raise FeatureFolderError(
            f"'{store.location}' is not a feature folder (no {MANIFEST}); create one with "
            "'samscape encode'"
        )
    for _ in range(READ_ATTEMPTS):
        try:
            return _read(store)
        except FileNotFoundError:  # a part merged or compacted away while read: read again
            continue
    raise FeatureFolderError(f"'{path}' kept changing while read; try again when its encoding ends")


def where(store: Store, name: str) -> str:
    """A file of the folder as messages show it: its path, or its URL."""
    return str(store.local_path(name) or f"{store.location}/{name}")


def manifest_files(folder: Path) -> list[Path]:
    """The manifest's files: `manifest.parquet` and the parts beside it (of any token)."""
    parts = folder / PARTS_DIR
    found = [p for p in parts.iterdir() if PART.fullmatch(p.name)] if parts.is_dir() else []
    return [folder / MANIFEST, *sorted(found)]


def remove_parts(folder: Path | str | Store) -> None:
    """Remove every part and abandoned temporary in `manifest.parts/`, then the folder if empty."""
    store = folder if isinstance(folder, Store) else open_store(folder)
    for name in store.names(PARTS_DIR):
        if PART.fullmatch(name) or (name.endswith(".tmp") and abandoned(Path(name))):
            with contextlib.suppress(OSError):  # held open elsewhere: its token is no longer read
                store.delete(f"{PARTS_DIR}/{name}")
    store.prune(PARTS_DIR)


@dataclass(frozen=True)
class _Part:
    first: int
    last: int
    ids: np.ndarray
    skipped: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.first:08d}-{self.last:08d}.parquet"


class ManifestJournal:
    """What one writer has flushed of a folder's manifest, so that a flush writes only what changed.

    An appending flush puts new rows and skipped chips in a part, merged with the latest parts
    covering as many flushes or fewer (a binary counter: at most log2(flushes) + 1 parts, each row
    rewritten that often). Any other flush, the first, and one after rows or skipped chips were
    removed (a live cache evicting chips) write the whole manifest in `manifest.parquet`.
    """

    def __init__(self, folder: Path | str, chips: ChipGrid) -> None:
        self.folder = folder
        self.store = open_store(folder)
        self.chips = chips
        self._token: str | None = None
        self._flushed = np.zeros(len(chips), dtype=bool)
        self._skipped: set[int] = set()
        self._parts: list[_Part] = []
        self._flushes = 0
        self._on_disk = False

    def adopt(self, written: np.ndarray, skipped: set[int]) -> None:
        """Take `written` and `skipped` as what `manifest.parquet` (and no part) already holds, so
        a flush that changes nothing writes nothing: a complete folder on read-only media resumes."""
        self._flushed, self._skipped, self._on_disk = written.copy(), set(skipped), True

    def flush(self, metadata: FolderMetadata, written: np.ndarray, skipped: set[int],
              append: bool = False) -> None:
        """Bring the manifest to `written` ((chip count,) bool) and `skipped` chip ids: what changed
        as a part when `append`, else all of it in `manifest.parquet` (nothing if nothing changed)."""
        added = np.flatnonzero(written & ~self._flushed)
        new_skipped = skipped - self._skipped
        removed = bool((self._flushed & ~written).any()) \
            or len(skipped) != len(self._skipped) + len(new_skipped)
        changed = bool(len(added) or new_skipped)
        if self._on_disk and self._token is None and not (removed or changed):
            return
        if self._token is None or removed or (not append and (self._parts or changed)):
            self._write_all(metadata, written, skipped)
        elif changed:
            self._append(metadata, added, tuple(sorted(new_skipped)))
            self._flushed[added] = True
            self._skipped |= new_skipped

    def _write_all(self, metadata: FolderMetadata, written: np.ndarray, skipped: set[int]) -> None:
        table = rows_table(self.chips, np.flatnonzero(written))
        full = metadata.model_copy(update={"skipped_chip_ids": tuple(sorted(skipped))})
        self._token = _write_base(self.store, full, table)
        self._flushed = written.copy()
        self._skipped = set(skipped)
        self._parts, self._flushes = [], 0

    def _append(self, metadata: FolderMetadata, ids: np.ndarray, skipped: tuple[int, ...]) -> None:
        flush = self._flushes + 1
        part, parts = _Part(flush, flush, ids, skipped), list(self._parts)
        while parts and parts[-1].last - parts[-1].first <= part.last - part.first:
            before = parts.pop()
            part = _Part(before.first, part.last, np.sort(np.concatenate([before.ids, part.ids])),
                         tuple(sorted(before.skipped + part.skipped)))
        local = self.store.local_path(PARTS_DIR)
        if local is not None:
            local.mkdir(exist_ok=True)
        about = {"token": self._token, "first": part.first, "last": part.last,
                 "skipped_chip_ids": list(part.skipped)}
        _write(self.store, f"{PARTS_DIR}/{self._token}-{part.name}", rows_table(self.chips, part.ids),
               metadata.preprocessing.grid.crs, {MANIFEST_KEY: json.dumps(about).encode()})
        for merged in self._parts[len(parts):]:
            with contextlib.suppress(OSError):  # one left behind is ignored, and removed later
                self.store.delete(f"{PARTS_DIR}/{self._token}-{merged.name}")
        self._parts, self._flushes = [*parts, part], flush


def _write_base(store: Store, metadata: FolderMetadata, table: pa.Table) -> str:
    """Write `manifest.parquet` with a new token, then drop every part (all of older tokens);
    the token."""
    token = uuid.uuid4().hex[:16]
    _write(store, MANIFEST, table, metadata.preprocessing.grid.crs, {
        METADATA_KEY: metadata.model_dump_json().encode(),
        MANIFEST_KEY: json.dumps({"token": token}).encode(),
    })
    remove_parts(store)
    return token


def _write(store: Store, name: str, table: pa.Table, crs_wkt: str, extra: dict[bytes, bytes]) -> None:
    """Write `table` as GeoParquet as `name`, whole (serialised in memory, then `Store.write`)."""
    geo = geo_metadata(crs_wkt, [], ["Polygon"])
    if len(table):
        geo["columns"]["geometry"]["bbox"] = list(rows_bbox(table))
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode(), **extra})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=BATCH_ROWS)
    store.write(name, memoryview(sink.getvalue()))


def _source(store: Store, name: str) -> Path | io.BytesIO:
    """What pyarrow opens for the file `name`: its path, or its content read whole (an object)."""
    return store.local_path(name) or io.BytesIO(store.read(name))


def _read(store: Store) -> tuple[FolderMetadata, ManifestRows]:
    path = where(store, MANIFEST)
    skipped: list[int] = []
    try:
        with pq.ParquetFile(_source(store, MANIFEST)) as manifest:  # pq.read_table would import pandas
            schema = manifest.schema_arrow.metadata or {}
            raw = schema.get(METADATA_KEY)
            if raw is None:
                raise ValueError("no samscape metadata (written by another tool?)")
            metadata = FolderMetadata.model_validate_json(raw)
            pre = metadata.preprocessing
            chips = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
            token = json.loads(schema[MANIFEST_KEY])["token"] if MANIFEST_KEY in schema else None
            rows = ManifestRows.of_batches(chips, _every_batch(store, manifest, token, skipped))
    except ValidationError as exc:
        raise FeatureFolderError(f"'{path}' holds invalid metadata ({_first_error(exc)}); the folder "
                                 "was altered or damaged: encode the raster again") from None
    except (FileNotFoundError, SamscapeError):
        raise
    except RowError as exc:
        raise FeatureFolderError(f"'{path}' {exc}; encode the raster again") from None
    except Exception as exc:
        first = str(exc).splitlines()[0]
        raise FeatureFolderError(f"'{path}' is not a readable samscape manifest: {first}") from None
    if skipped:
        if not all(isinstance(c, int) and 0 <= c < metadata.grid_chip_count for c in skipped):
            raise FeatureFolderError(f"'{where(store, PARTS_DIR)}' lists skipped chips outside the grid of "
                                     f"{metadata.grid_chip_count}; encode the raster again")
        every = sorted(set(metadata.skipped_chip_ids).union(skipped))
        metadata = metadata.model_copy(update={"skipped_chip_ids": tuple(every)})
    return metadata, rows


def _every_batch(store: Store, manifest: pq.ParquetFile, token: str | None, skipped: list[int]
                 ) -> Iterator[pa.RecordBatch]:
    """The rows of the manifest and of its parts, a batch at a time; each part's skipped chips are
    added to `skipped`. The parts are opened as soon as listed, so a writer merging them away
    meanwhile does not pull them from under the read."""
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(pq.ParquetFile(_source(store, f"{PARTS_DIR}/{name}")))
                 for name in _parts(store, token)]
        yield from _batches(manifest)
        for file in files:
            about = json.loads((file.schema_arrow.metadata or {})[MANIFEST_KEY])
            if about.get("token") != token or not isinstance(about.get("skipped_chip_ids"), list):
                raise ValueError("a part does not belong to this manifest")
            skipped.extend(about["skipped_chip_ids"])
            yield from _batches(file)


def _batches(file: pq.ParquetFile) -> Iterator[pa.RecordBatch]:
    """The row columns of `file`, a row group at a time (a million rows read in under 100 MB)."""
    for group in range(file.num_row_groups):
        yield from file.iter_batches(batch_size=BATCH_ROWS, row_groups=[group], columns=ROW_COLUMNS,
                                     use_threads=False)


def _parts(store: Store, token: str | None) -> list[str]:
    """The names of the parts of `token`, in flush order, without those lying within another's
    flushes."""
    if token is None:
        return []
    found = []
    for name in store.names(PARTS_DIR):
        match = PART.fullmatch(name)
        if match and match.group(1) == token:
            found.append((int(match.group(2)), int(match.group(3)), name))
    kept = [(a, b, f) for a, b, f in found
            if not any(c <= a and b <= d and (c, d) != (a, b) for c, d, _ in found)]
    return [f for _, _, f in sorted(kept)]


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
