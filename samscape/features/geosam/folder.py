"""A Geo-SAM v2 feature folder opened as a samscape feature folder (`GeosamFolder`).

Its manifest gives each chip's pixels (transform, shape), from which the chip grid is rebuilt:
Geo-SAM cuts the same grid as samscape (chips of the model's input size S, one stride, the last
chip shifted back to end at the edge, numbered row-major). What Geo-SAM does not record is filled
in and marked (see docs/formats.md): the weights (named by checkpoint file only), the raster's
fingerprint, the bands and value range (Geo-SAM's encoder sees the first three bands as B, G, R).

Nothing is trusted more than in samscape's own folders: chip files are always read from this
folder's `features/` (the manifest's absolute paths are not followed, so a moved or copied folder
reads its own chips), loaded with `weights_only=True`, and checked (model, shapes, float32,
finite) when loaded.
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import pyproj
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from ...errors import FeatureFolderError, SettingsError
from ...geo import Chip, ChipGrid, PixelGrid, Window, crs_label
from ...models import ModelSpec, get_spec
from ...models.store import bundled_path
from ..folder import FeatureFolder
from ..manifest import FEATURES_DIR, ChipRecord
from ..metadata import FolderMetadata, GridRecord, ModelRecord, PreprocessingRecord
from .checkpoints import checkpoint_name, model_for_checkpoint, unsupported_reason
from .chips import read_geosam_chip
from .manifest import FIX, MANIFEST, GeosamRow, read_geosam_manifest, read_origin

if TYPE_CHECKING:
    import torch

LETTERBOX: Final = "ultralytics_letterbox"
FINGERPRINT_PREFIX = "geosam:"
ULTRALYTICS_MEAN = (123.675 / 255, 116.28 / 255, 103.53 / 255)
ULTRALYTICS_STD = (58.395 / 255, 57.12 / 255, 57.375 / 255)


def feature_shapes(spec: ModelSpec) -> dict[str, tuple[int, int, int]]:
    """(C, H, W) of each feature of one chip of `spec`'s model, from its config (no torch)."""
    size = spec.input_size
    if spec.tiny:
        config = spec.tiny
    elif spec.bundled:
        config = json.loads((bundled_path(spec) / "config.json").read_text())
    else:
        config = {}
    vision = config.get("vision_config", {})
    decoder = config.get("mask_decoder_config", {})
    if spec.family == "sam2":
        hidden = decoder.get("hidden_size", 256)
        return {"high_res_feats_0": (hidden // 8, size // 4, size // 4),
                "high_res_feats_1": (hidden // 4, size // 8, size // 8),
                "image_embeddings": (vision.get("fpn_hidden_size", 256), size // 16, size // 16)}
    side = size // vision.get("patch_size", 16)
    return {"image_embeddings": (vision.get("output_channels", 256), side, side)}


def parse_crs(text: str) -> CRS:
    """A manifest's `crs` text ("EPSG:n" or WKT) as a CRS; ValueError if it is none."""
    try:
        wkt = pyproj.CRS.from_user_input(text).to_wkt()
        return CRS.from_wkt(wkt)
    except Exception:
        raise ValueError(f"crs {text[:40]!r} is not a coordinate reference system") from None


def rebuild_grid(rows: list[GeosamRow], size: int) -> tuple[ChipGrid, dict[int, Chip]]:
    """The chip grid the rows were cut from (the area their chips cover, stride from their
    offsets) and each row's chip; ValueError if the rows are not such a grid's chips."""
    a, e = rows[0].transform.a, rows[0].transform.e
    x0 = min(r.transform.c for r in rows) if a > 0 else max(r.transform.c for r in rows)
    y0 = max(r.transform.f for r in rows) if e < 0 else min(r.transform.f for r in rows)
    offsets = []
    for r in rows:
        t = r.transform
        if abs(t.a - a) > 1e-9 * abs(a) or abs(t.e - e) > 1e-9 * abs(e):
            raise ValueError(f"chip_{r.number:06d} has another pixel size")
        col, row = (t.c - x0) / a, (t.f - y0) / e
        if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
            raise ValueError(f"chip_{r.number:06d} is not on the grid of the other chips")
        offsets.append((round(col), round(row)))
    width = max(c + r.shape[1] for (c, _), r in zip(offsets, rows, strict=True))
    height = max(o + r.shape[0] for (_, o), r in zip(offsets, rows, strict=True))
    for r in rows:
        if r.shape != (min(size, height), min(size, width)):
            raise ValueError(f"chip_{r.number:06d} is {r.shape[0]} x {r.shape[1]} px, not the model's "
                             f"{size} px (samscape opens folders whose chips are the model's input "
                             "size, Geo-SAM's default)")
    stride = _stride([c for c, _ in offsets]) or _stride([o for _, o in offsets])
    grid = PixelGrid(width, height, Affine(a, 0, x0, 0, e, y0), parse_crs(rows[0].crs))
    chips = ChipGrid(grid, size, stride or size)
    found = {}
    for (col, row), r in zip(offsets, rows, strict=True):
        if not 0 <= r.number < len(chips):
            raise ValueError(f"chip_{r.number:06d} is not a chip of its {len(chips)}-chip grid")
        chip = chips.chip(r.number)
        if chip.window != Window(col, row, r.shape[1], r.shape[0]) or r.number in found:
            raise ValueError(f"chip_{r.number:06d} is not where its grid puts chip {r.number}")
        found[r.number] = chip
    return chips, found


def _stride(offsets: list[int]) -> int | None:
    """The stride the chip offsets along one axis show: the second offset when there are three or
    more (two are 0 and the edge, which any stride from their gap up to the chip size gives)."""
    distinct = sorted(set(offsets))
    return distinct[1] if len(distinct) >= 3 else None


class GeosamFolder(FeatureFolder):
    """A Geo-SAM v2 folder behind samscape's `FeatureFolder` interface (metadata, records,
    `load_chip`, `problems`, `summary`); its `metadata.preprocessing.resize` is
    'ultralytics_letterbox', which tells a source to decode with `LetterboxMapping`."""

    path: Path

    def __init__(self, path: Path, metadata: FolderMetadata, records: list[ChipRecord],
                 checkpoint_path: str, source_path: str, origin: FolderMetadata | None = None) -> None:
        super().__init__(path, metadata, records)
        self.checkpoint_path = checkpoint_path
        self.source_path = source_path
        self.origin = origin

    @property
    def checkpoint(self) -> str:
        return checkpoint_name(self.checkpoint_path)

    @classmethod
    def open(cls, path: str | os.PathLike, model: str | None = None) -> GeosamFolder:
        """Open the folder with the model its checkpoint name maps to, or with `model` (any
        samscape id, an imported one included: the weights that encoded it, e.g. a fine-tuned or
        renamed checkpoint), checked against the folder: same family, same input size; the
        feature shapes are checked against the model when it is loaded (`model_mismatch`) and
        against every chip file when read."""
        folder = Path(path)
        rows = read_geosam_manifest(folder)
        first = rows[0]
        where = f"'{folder}' is a Geo-SAM folder, but"
        if first.model_type not in ("sam", "sam2"):
            raise FeatureFolderError(f"{where} its model type {first.model_type!r} (SAM 3) is not one "
                                     f"samscape has; {FIX}")
        model_id = model if model is not None else model_for_checkpoint(first.checkpoint_path)
        if model_id is None:
            raise FeatureFolderError(f"{where} {unsupported_reason(first.checkpoint_path)}")
        spec = get_spec(model_id)
        if model is not None:
            fix = (f"give --model a {first.model_type} model of input {first.dst_shape[0]} px (the "
                   "weights that encoded it, e.g. imported with 'samscape models import'), or drop it")
            if spec.family != first.model_type:
                raise SettingsError(f"{where} it holds {first.model_type} features and model {model!r} "
                                    f"is a {spec.family} model; {fix}")
            if first.dst_shape != (spec.input_size, spec.input_size):
                raise SettingsError(f"{where} its model input {list(first.dst_shape)} is not "
                                    f"{model!r}'s {spec.input_size} px; {fix}")
        if spec.family != first.model_type:
            raise FeatureFolderError(f"{where} its checkpoint {checkpoint_name(first.checkpoint_path)!r} "
                                     f"is a {spec.family} model, not {first.model_type!r}; {FIX}")
        if first.dst_shape != (spec.input_size, spec.input_size):
            raise FeatureFolderError(f"{where} its model input {list(first.dst_shape)} is not "
                                     f"{model_id}'s {spec.input_size} px; {FIX}")
        try:
            origin = _origin(folder, rows, spec)
            if origin is not None:
                metadata, found = _as_geosam(origin[0]), origin[1]
            else:
                chips, found = rebuild_grid(rows, spec.input_size)
                metadata = _metadata(folder, first, spec, chips, found)
        except ValueError as exc:
            raise FeatureFolderError(f"{where} {str(exc).splitlines()[0]}; {FIX}") from None
        records = [ChipRecord(c.chip_id, c.row, c.col, c.window.width, c.window.height, c.transform,
                              f"{FEATURES_DIR}/{r.file_name}")
                   for r in rows for c in (found[r.number],)]
        return cls(folder, metadata, records, first.checkpoint_path, first.source_path,
                   None if origin is None else origin[0])

    def load_chip(self, chip_id: int) -> dict[str, torch.Tensor]:
        """The chip's feature tensors under samscape's names, (C, H, W) float32."""
        if chip_id not in self.records:
            raise FeatureFolderError(f"chip {chip_id} is not in '{self.path}'")
        record = self.records[chip_id]
        meta = self.metadata
        try:
            return read_geosam_chip(self.chip_file(chip_id), meta.model.family, self.checkpoint,
                                    (record.height, record.width), meta.feature_shapes)
        except FileNotFoundError:
            raise FeatureFolderError(
                f"chip {chip_id} of the Geo-SAM folder '{self.path}' is missing ({record.feature_path}); "
                "copy it from where the folder was encoded, or encode the raster again") from None
        except Exception as exc:
            reason = str(exc).splitlines()[0] if isinstance(exc, ValueError) else "unreadable"
            raise FeatureFolderError(
                f"chip {chip_id} of the Geo-SAM folder '{self.path}' is corrupt ({reason}); "
                "encode the raster again") from None

    def summary(self) -> dict:
        out = super().summary()
        out.update(format="geosam-v2", format_version=2,
                   geosam={"checkpoint_path": self.checkpoint_path, "source_path": self.source_path})
        return out


def _origin(folder: Path, rows: list[GeosamRow], spec: ModelSpec
            ) -> tuple[FolderMetadata, dict[int, Chip]] | None:
    """The metadata of the samscape folder this one was converted from (`convert --to geosam`
    keeps it in the manifest), and each row's chip, if it is of `spec`'s model and every row is
    the chip its grid puts there: its bands, value range, grid and nodata chips, which the rows
    alone do not tell. None for a folder Geo-SAM wrote."""
    text = read_origin(folder)
    if text is None:
        return None
    try:
        meta = FolderMetadata.model_validate_json(text)
    except ValueError:
        return None
    pre = meta.preprocessing
    chips = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
    found = {}
    for r in rows:
        chip = chips.chip(r.number) if 0 <= r.number < len(chips) else None
        if chip is None or (chip.window.height, chip.window.width) != r.shape \
                or not chip.transform.almost_equals(r.transform, 1e-9 * abs(r.transform.a)):
            return None
        found[r.number] = chip
    return (meta, found) if meta.model.id == spec.id else None


def _as_geosam(meta: FolderMetadata) -> FolderMetadata:
    """A converted folder's metadata as Geo-SAM reads its chips: float32, letterboxed."""
    pre = meta.preprocessing.model_copy(update={"resize": LETTERBOX, "mean": ULTRALYTICS_MEAN,
                                                "std": ULTRALYTICS_STD})
    return meta.model_copy(update={"dtype": "float32", "preprocessing": pre})


def _metadata(folder: Path, first: GeosamRow, spec: ModelSpec, chips: ChipGrid,
              found: dict[int, Chip]) -> FolderMetadata:
    grid = chips.grid
    xmin, ymin, xmax, ymax = grid.bounds
    crs = grid.crs
    bands, value_range = raster_facts(folder, first.source_path)
    mtime = (folder / MANIFEST).stat().st_mtime
    manifest_time = datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)
    return FolderMetadata(
        model=ModelRecord(id=spec.id, family=spec.family, repository=spec.repository,
                          revision=spec.revision, weights_sha256=spec.sha256 or "unrecorded",
                          input_size=spec.input_size),
        preprocessing=PreprocessingRecord(
            source_name=source_name(first.source_path),
            source_fingerprint=FINGERPRINT_PREFIX + first.source_path,
            bands=bands, value_range=value_range,
            crs=crs_label(crs) if len(crs_label(crs)) < 60 else crs.to_wkt(),
            resolution=(abs(grid.transform.a), abs(grid.transform.e)),
            extent=(xmin, ymin, xmax, ymax), grid=GridRecord.from_grid(grid),
            chip_size=chips.size, stride=chips.stride, resize=LETTERBOX,
            mean=ULTRALYTICS_MEAN, std=ULTRALYTICS_STD),
        dtype="float32", feature_shapes=feature_shapes(spec), grid_chip_count=len(chips),
        samscape_version="geosam", created=manifest_time.isoformat(timespec="seconds"),
    )


def source_name(source_path: str) -> str:
    return source_path.replace("\\", "/").rsplit("/", 1)[-1] or "raster"


def local_raster(folder: Path, source_path: str) -> Path | None:
    """The raster a Geo-SAM folder names: the recorded path if it is a local file, else a file of
    its name beside the folder or in it; None if there is none (no URL or GDAL path is opened)."""
    name = source_name(source_path)
    recorded = Path(source_path)
    candidates = [recorded] if recorded.is_absolute() and "://" not in source_path \
        and not source_path.startswith("/vsi") else []
    candidates += [folder.parent / name, folder / name]
    return next((c for c in candidates if c.is_file()), None)


def raster_facts(folder: Path, source_path: str) -> tuple[tuple[int, int, int], tuple[float, float]]:
    """Bands as Geo-SAM's encoder saw them (as R, G, B) and the value range, as far as the
    raster, if here, tells: Ultralytics reads the chip as BGR, so the first three bands arrive as
    B, G, R (3, 2, 1); one band is repeated, two get the second repeated. uint8 passes unchanged
    (0–255); other types: the raster's range, from a decimated read (the plugin's rule). Without
    the raster: (3, 2, 1) and 0–255 (Geo-SAM records neither)."""
    raster = local_raster(folder, source_path)
    if raster is None:
        return (3, 2, 1), (0.0, 255.0)
    try:
        with rasterio.open(raster) as ds:
            count, dtype = ds.count, ds.dtypes[0]
            bands = {1: (1, 1, 1), 2: (2, 2, 1)}.get(count, (3, 2, 1))
            if dtype == "uint8":
                return bands, (0.0, 255.0)
            shape = (min(ds.height, 512), min(ds.width, 512))
            sample = ds.read(sorted(set(bands)), out_shape=(len(set(bands)), *shape), masked=True)
            values = sample.compressed()
            values = values[np.isfinite(values)]
            if not values.size or values.max() <= values.min():
                return bands, (0.0, 255.0)
            return bands, (float(values.min()), float(values.max()))
    except (RasterioError, OSError, ValueError):
        return (3, 2, 1), (0.0, 255.0)
