"""A folder's chip records held compactly: as the sorted chip ids when read from a manifest, as
one byte per grid chip while written. Neither holds a Python object per chip (a record is made
when asked for), so a million-chip folder opens in under a second and 100 MB."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely
from affine import Affine

from ..geo import Chip, ChipGrid

ROW_COLUMNS = ["chip_id", "row", "col", "width", "height", "transform", "feature_path"]
"""The columns a reader takes (the others follow from them)."""
__all__ = ["FEATURES_DIR", "ROW_COLUMNS", "SCHEMA", "ChipRecord", "ManifestRows", "RowError",
           "WrittenChips", "chip_relpath", "derived_rows", "records_table", "rows_bbox", "rows_table",
           "table_of"]

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


SCHEMA = pa.schema([
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
"""The manifest's columns (GeoParquet: `geometry` is each chip's footprint as WKB)."""


class ManifestRows(Mapping[int, ChipRecord]):
    """The rows of a manifest as a mapping chip id → `ChipRecord`, held as the sorted chip ids
    only: a row is a function of the grid and its id (`derived_rows`), so only rows that differ
    from that (none that samscape wrote) are kept as records. A lookup is a binary search."""

    def __init__(self, chips: ChipGrid, ids: np.ndarray, unusual: dict[int, ChipRecord]) -> None:
        self.chips = chips
        self.ids = ids
        self.unusual = unusual

    @classmethod
    def of_batches(cls, chips: ChipGrid, batches: Iterable[pa.RecordBatch]) -> ManifestRows:
        """The rows of `batches` (columns `ROW_COLUMNS`, any order), checked as they stream; RowError
        naming the first chip id that is not a chip of the grid, is listed twice, or has an
        impossible size or transform."""
        ids, unusual = [], {}
        for batch in batches:
            got = _columns(batch)
            _check(got, len(chips), chips.size)
            expected = derived_rows(chips, got["chip_id"])
            same = np.ones(len(got["chip_id"]), dtype=bool)
            for name in ("row", "col", "width", "height"):
                same &= got[name] == expected[name]
            for k in range(6):
                same &= got["transform"][:, k] == expected["transform"][:, k]
            same &= _same_paths(batch.column("feature_path"), got["chip_id"])
            for i in np.flatnonzero(~same):
                record = ChipRecord(int(got["chip_id"][i]), int(got["row"][i]), int(got["col"][i]),
                                    int(got["width"][i]), int(got["height"][i]),
                                    Affine(*got["transform"][i].tolist()),
                                    batch.column("feature_path")[i].as_py())
                unusual[record.chip_id] = record
            ids.append(got["chip_id"])
        every = np.sort(np.concatenate(ids)) if ids else np.empty(0, dtype=np.int64)
        twice = every[1:][every[1:] == every[:-1]]
        if len(twice):
            raise RowError(f"lists chip {twice[0]} twice")
        return cls(chips, every, unusual)

    def _has(self, chip_id: object) -> bool:
        if isinstance(chip_id, bool) or not isinstance(chip_id, (int, np.integer)):
            return False
        i = int(np.searchsorted(self.ids, chip_id))
        return i < len(self.ids) and self.ids[i] == chip_id

    def __contains__(self, chip_id: object) -> bool:
        return self._has(chip_id)

    def __getitem__(self, chip_id: int) -> ChipRecord:
        if not self._has(chip_id):
            raise KeyError(chip_id)
        found = self.unusual.get(chip_id)
        return found if found is not None else ChipRecord.from_chip(self.chips.chip(int(chip_id)))

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)

    def full_table(self) -> pa.Table:
        """Every manifest column of these rows."""
        if self.unusual:
            return records_table(self.values())
        return rows_table(self.chips, self.ids)

    def extent(self) -> tuple[float, float, float, float] | None:
        """(xmin, ymin, xmax, ymax) of every row's chip, in the folder's CRS; None if no rows."""
        if not len(self.ids):
            return None
        usual = self.ids[~np.isin(self.ids, list(self.unusual))] if self.unusual else self.ids
        got = derived_rows(self.chips, usual)
        boxes = [np.stack(_corners(got["transform"], got["width"], got["height"]), axis=1)]
        boxes += [np.array([r.bounds]) for r in self.unusual.values()]
        every = np.concatenate(boxes)
        return (float(every[:, 0].min()), float(every[:, 1].min()), float(every[:, 2].max()),
                float(every[:, 3].max()))


class WrittenChips(MutableMapping[int, ChipRecord]):
    """The chips of `chips` written so far, as one byte per chip of the grid (1 MB for a million);
    a record is rebuilt from the grid when asked for, so only records of this grid's chips can be
    stored."""

    def __init__(self, chips: ChipGrid) -> None:
        self.chips = chips
        self._have = bytearray(len(chips))
        self._count = 0

    def __contains__(self, chip_id: object) -> bool:
        return (isinstance(chip_id, int) and 0 <= chip_id < len(self._have)
                and bool(self._have[chip_id]))

    def __getitem__(self, chip_id: int) -> ChipRecord:
        if chip_id not in self:
            raise KeyError(chip_id)
        return ChipRecord.from_chip(self.chips.chip(chip_id))

    def __setitem__(self, chip_id: int, record: ChipRecord) -> None:
        if record.chip_id != chip_id or not 0 <= chip_id < len(self._have):
            raise ValueError(f"record of chip {record.chip_id} stored as chip {chip_id} of a grid of "
                             f"{len(self._have)}")
        if not self._have[chip_id]:
            self._have[chip_id] = 1
            self._count += 1

    def __delitem__(self, chip_id: int) -> None:
        if chip_id not in self:
            raise KeyError(chip_id)
        self._have[chip_id] = 0
        self._count -= 1

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(self.mask()).tolist())

    def __len__(self) -> int:
        return self._count

    def add(self, chip_id: int) -> None:
        """Record chip `chip_id` of the grid as written."""
        self[chip_id] = ChipRecord(chip_id, 0, 0, 1, 1, Affine.identity(), "")

    def mask(self) -> np.ndarray:
        """A copy: (chip count,) bool, True for each chip written."""
        return np.frombuffer(self._have, dtype=np.uint8).astype(bool)


def derived_rows(chips: ChipGrid, ids: np.ndarray) -> dict[str, np.ndarray]:
    """The row columns of chips `ids` of `chips` but feature_path, as numpy arrays (transform
    (n, 6)), computed at once and equal, value for value, to `ChipRecord.from_chip`'s
    (the same float operations)."""
    ids = np.asarray(ids, dtype=np.int64)
    n_rows, n_cols = chips.shape
    grid, size, stride = chips.grid, chips.size, chips.stride
    rows, cols = np.divmod(ids, n_cols)
    row_off = _offsets(rows, n_rows, grid.height, size, stride)
    col_off = _offsets(cols, n_cols, grid.width, size, stride)
    t = grid.transform
    transforms = np.empty((len(ids), 6))
    # Affine @ Affine.translation(col, row), as affine computes it
    transforms[:] = (t.a * 1.0 + t.b * 0.0, t.a * 0.0 + t.b * 1.0, 0.0,
                     t.d * 1.0 + t.e * 0.0, t.d * 0.0 + t.e * 1.0, 0.0)
    transforms[:, 2] = t.a * col_off + t.b * row_off + t.c
    transforms[:, 5] = t.d * col_off + t.e * row_off + t.f
    return {"chip_id": ids, "row": rows.astype(np.int32), "col": cols.astype(np.int32),
            "width": np.full(len(ids), min(size, grid.width), dtype=np.int32),
            "height": np.full(len(ids), min(size, grid.height), dtype=np.int32),
            "transform": transforms}


PATH_BYTES = len(chip_relpath(0))
"""Bytes of a chip file's path: ids stay below `MAX_CHIPS` (1,000,000), so always six digits."""
_PREFIX = np.frombuffer(chip_relpath(0)[:-9].encode(), dtype=np.uint8)
_SUFFIX = np.frombuffer(b".pt", dtype=np.uint8)
_DIGITS = 10 ** np.arange(5, -1, -1)


def rows_table(chips: ChipGrid, ids: np.ndarray) -> pa.Table:
    """The manifest rows (every column) of chips `ids` of `chips`; see `derived_rows`."""
    got = derived_rows(chips, ids)
    wkb = shapely.to_wkb(shapely.box(*_corners(got["transform"], got["width"], got["height"])))
    paths = [chip_relpath(i) for i in got["chip_id"].tolist()]
    return table_of(got["chip_id"], paths, got["row"], got["col"], got["width"], got["height"],
                    got["transform"], wkb)


def table_of(ids: np.ndarray, paths: pa.Array | list[str], rows: np.ndarray, cols: np.ndarray,
             widths: np.ndarray, heights: np.ndarray, transforms: np.ndarray, wkb: np.ndarray
             ) -> pa.Table:
    """The manifest's table from its columns; transforms (n, 6)."""
    flat = pa.array(np.ascontiguousarray(transforms, dtype=np.float64).reshape(-1))
    return pa.table({
        "chip_id": pa.array(ids, pa.int64()),
        "feature_path": paths if isinstance(paths, pa.Array) else pa.array(paths, pa.string()),
        "row": pa.array(rows, pa.int32()),
        "col": pa.array(cols, pa.int32()),
        "width": pa.array(widths, pa.int32()),
        "height": pa.array(heights, pa.int32()),
        "transform": pa.FixedSizeListArray.from_arrays(flat, 6),
        "res_x": pa.array(np.abs(transforms[:, 0]) if len(transforms) else [], pa.float64()),
        "res_y": pa.array(np.abs(transforms[:, 4]) if len(transforms) else [], pa.float64()),
        "geometry": pa.array(wkb, pa.binary()),
    }, schema=SCHEMA)


def _offsets(index: np.ndarray, count: int, length: int, size: int, stride: int) -> np.ndarray:
    """`geo.chips._offset` for many indices at once."""
    if length <= size:
        return np.zeros(len(index), dtype=np.int64)
    return np.where(index < count - 1, index * stride, length - size)


def _corners(transforms: np.ndarray, widths: np.ndarray, heights: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xmin, ymin, xmax, ymax) arrays of chips with (n, 6) transforms and sizes, as
    `ChipRecord.bounds` computes them."""
    a, b, c, d, e, f = (transforms[:, k] for k in range(6))
    x1 = widths * a + heights * b + c
    y1 = widths * d + heights * e + f
    return np.minimum(c, x1), np.minimum(f, y1), np.maximum(c, x1), np.maximum(f, y1)


def _columns(batch: pa.RecordBatch | pa.Table) -> dict:
    """The row columns of `batch` as numpy arrays (transform (n, 6)); feature_path as Arrow."""
    out: dict = {}
    for name, kind in (("chip_id", pa.int64()), ("row", pa.int32()), ("col", pa.int32()),
                       ("width", pa.int32()), ("height", pa.int32())):
        out[name] = _numpy(batch.column(name), kind, name)
    column = batch.column("transform")
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count or not (pa.types.is_list(column.type) or pa.types.is_fixed_size_list(column.type)):
        raise RowError("has a transform column that is not 6 numbers a row")
    values = _numpy(column.flatten(), pa.float64(), "transform")
    if len(values) != 6 * len(column):
        raise RowError("has a transform column that is not 6 numbers a row")
    out["transform"] = values.reshape(-1, 6)
    out["feature_path"] = batch.column("feature_path")
    return out


def _same_paths(column: pa.Array, ids: np.ndarray) -> np.ndarray:
    """(n,) bool: which strings of `column` are `chip_relpath` of the `ids` in their rows."""
    if column.type != pa.string() or column.null_count:
        return np.array([v == chip_relpath(i) for v, i in zip(column.to_pylist(), ids.tolist(), strict=True)],
                        dtype=bool)
    n = len(column)
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32, count=n + 1, offset=column.offset * 4)
    data = np.frombuffer(column.buffers()[2] or b"", dtype=np.uint8)
    same = np.diff(offsets) == PATH_BYTES
    if same.all():
        got = data[offsets[0]:offsets[-1]].reshape(n, PATH_BYTES)
    else:
        got = data[offsets[:-1][same, None] + np.arange(PATH_BYTES)]
    digits = got[:, len(_PREFIX):len(_PREFIX) + 6].astype(np.int64) - ord("0")
    ok = ((got[:, :len(_PREFIX)] == _PREFIX).all(axis=1) & (got[:, -3:] == _SUFFIX).all(axis=1)
          & ((digits >= 0) & (digits <= 9)).all(axis=1) & (digits @ _DIGITS == ids[same]))
    same[same] = ok
    return same


_NUMPY = {pa.int64(): np.int64, pa.int32(): np.int32, pa.float64(): np.float64}


def _numpy(array: pa.Array | pa.ChunkedArray, kind: pa.DataType, name: str) -> np.ndarray:
    """The values of a numeric Arrow column without empty values as `kind`, in numpy (read from its
    buffer: `to_numpy` would import pandas)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise RowError(f"has empty values in column {name}")
    if array.type != kind:
        array = array.cast(kind)
    dtype = np.dtype(_NUMPY[kind])
    buffer = array.buffers()[1]
    if buffer is None:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


class RowError(ValueError):
    """A manifest row that no chip of the folder's grid can have."""


def _check(got: dict, count: int, size: int) -> None:
    """RowError naming the first row that is not a chip of a grid of `count` chips of `size` px."""
    ids = got["chip_id"]
    bad = (ids < 0) | (ids >= count)
    if bad.any():
        raise RowError(f"lists chip {ids[bad][0]}, which is not a chip of its grid of {count}")
    widths, heights = got["width"], got["height"]
    bad = ((widths <= 0) | (widths > size) | (heights <= 0) | (heights > size)
           | ~np.isfinite(got["transform"]).all(axis=1))
    if bad.any():
        raise RowError(f"gives chip {ids[bad][0]} a size {widths[bad][0]} x {heights[bad][0]} or "
                         "transform that its grid cannot have")


def rows_bbox(table: pa.Table) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of the chips of a non-empty manifest table."""
    got = _columns(table)
    xmin, ymin, xmax, ymax = _corners(got["transform"], got["width"], got["height"])
    return float(xmin.min()), float(ymin.min()), float(xmax.max()), float(ymax.max())


def records_table(records: Iterable[ChipRecord]) -> pa.Table:
    """The manifest rows of `records` (any order; sorted by chip id here), from their own fields."""
    rs = sorted(records, key=lambda r: r.chip_id)
    transforms = np.array([list(r.transform)[:6] for r in rs], dtype=np.float64).reshape(-1, 6)
    boxes = [shapely.box(*r.bounds) for r in rs]
    def ints(name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in rs], dtype=np.int32)

    return table_of(np.array([r.chip_id for r in rs], dtype=np.int64), [r.feature_path for r in rs],
                    ints("row"), ints("col"), ints("width"), ints("height"), transforms,
                    shapely.to_wkb(boxes) if boxes else np.array([], dtype=object))
