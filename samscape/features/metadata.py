"""The feature folder's file-level metadata (format version 1), validated with pydantic.

Nothing read from a folder is trusted: every value a reader later computes with (grid size and
transform, CRS, chip size and stride, chip count, feature names and shapes) is checked here, so a
crafted manifest is refused when the folder is opened, not by a crash later.
"""

from __future__ import annotations

import math
from typing import Annotated, Final, Literal

import pyproj
from affine import Affine
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from rasterio.crs import CRS
from rasterio.errors import CRSError

from ..geo import PixelGrid, chip_count
from ..geo.chips import MAX_CHIPS, MAX_SIDE

FORMAT_NAME: Final = "samscape-features"
FORMAT_VERSION: Final = 1
METADATA_KEY = b"samscape"
MAX_INPUT_SIZE = 4096
"""Largest model input (and chip) side a folder may declare, in pixels."""
FEATURE_NAMES = {
    "sam": ("image_embeddings",),
    "sam2": ("high_res_feats_0", "high_res_feats_1", "image_embeddings"),
}
"""The feature tensors each model family stores per chip."""


def _finite(values: tuple[float, ...]) -> tuple[float, ...]:
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{values} holds a value that is not a finite number")
    return values


def _crs_wkt(value: str) -> str:
    try:
        pyproj.CRS.from_wkt(value)  # first: PROJ refuses garbage quietly, GDAL prints "ERROR 1"
        CRS.from_wkt(value)
    except (CRSError, pyproj.exceptions.CRSError, ValueError):
        raise ValueError(f"{value[:40]!r} is not a coordinate reference system (WKT)") from None
    return value


Finite = Annotated[float, AfterValidator(lambda v: _finite((v,))[0])]
Side = Annotated[int, Field(ge=1, le=MAX_SIDE)]
Shape = tuple[Annotated[int, Field(ge=1, le=MAX_INPUT_SIZE)], Annotated[int, Field(ge=1, le=MAX_INPUT_SIZE)],
              Annotated[int, Field(ge=1, le=MAX_INPUT_SIZE)]]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())


class ModelRecord(_Record):
    """Which weights made the features."""

    id: str
    family: Literal["sam", "sam2"]
    repository: str | None
    revision: str | None
    weights_sha256: str
    input_size: int = Field(ge=16, le=MAX_INPUT_SIZE)


class GridRecord(_Record):
    """The processing grid: pixel size of the whole area, its affine transform, its CRS (WKT).

    The transform is north-up (no rotation) with non-zero pixel sizes; the CRS must parse.
    """

    width: Side
    height: Side
    transform: Annotated[tuple[Finite, Finite, Finite, Finite, Finite, Finite], AfterValidator(_finite)]
    crs: Annotated[str, AfterValidator(_crs_wkt)]

    @model_validator(mode="after")
    def _north_up(self) -> GridRecord:
        a, b, _, d, e, _ = self.transform
        if a == 0 or e == 0 or b != 0 or d != 0:
            raise ValueError(f"transform {self.transform} is not a north-up grid with non-zero pixels")
        return self

    @classmethod
    def from_grid(cls, grid: PixelGrid) -> GridRecord:
        return cls(width=grid.width, height=grid.height, transform=tuple(grid.transform)[:6],
                   crs=grid.crs.to_wkt())

    def to_grid(self) -> PixelGrid:
        return PixelGrid(self.width, self.height, Affine(*self.transform), CRS.from_wkt(self.crs))


class PreprocessingRecord(_Record):
    """How raster values became model input; every later read of the source repeats this."""

    source_name: str
    source_fingerprint: str
    source_url: str | None = Field(default=None, description="where a remote raster was read "
                                   "(s3://bucket/key, https://host/path), without its query string")
    bands: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = \
        Field(description="1-based band indexes fed as R, G, B")
    value_range: tuple[Finite, Finite] = Field(description="raster values mapped to 0 and 255")
    crs: str = Field(description="CRS of the processing grid, 'EPSG:n' or WKT")
    resolution: tuple[Annotated[float, Field(gt=0, allow_inf_nan=False)],
                      Annotated[float, Field(gt=0, allow_inf_nan=False)]] = \
        Field(description="pixel size (x, y) in map units")
    extent: tuple[Finite, Finite, Finite, Finite] = Field(description="xmin, ymin, xmax, ymax")
    grid: GridRecord
    chip_size: int = Field(ge=1, le=MAX_INPUT_SIZE)
    stride: int = Field(ge=1, le=MAX_INPUT_SIZE)
    resize: Literal["longest_side_pad", "square", "ultralytics_letterbox"] = Field(
        description="longest_side_pad: SAM's (transformers); square: SAM 2's (transformers); "
                    "ultralytics_letterbox: Geo-SAM's features (see docs/formats.md)")
    mean: tuple[Finite, Finite, Finite]
    std: tuple[Annotated[float, Field(gt=0, allow_inf_nan=False)],
               Annotated[float, Field(gt=0, allow_inf_nan=False)],
               Annotated[float, Field(gt=0, allow_inf_nan=False)]]

    @model_validator(mode="after")
    def _consistent(self) -> PreprocessingRecord:
        if self.stride > self.chip_size:
            raise ValueError(f"stride {self.stride} is larger than the chip size {self.chip_size}")
        if self.value_range[0] >= self.value_range[1]:
            raise ValueError(f"value range {self.value_range} is empty")
        return self


class FolderMetadata(_Record):
    """Everything a reader needs besides the chips: model, preprocessing, storage, progress."""

    format: Literal["samscape-features"] = FORMAT_NAME
    format_version: Literal[1] = FORMAT_VERSION
    model: ModelRecord
    preprocessing: PreprocessingRecord
    dtype: Literal["float16", "float32"]
    feature_shapes: dict[str, Shape] = Field(description="name → (C, H, W)")
    grid_chip_count: int = Field(ge=1, le=MAX_CHIPS, description="chips in the full grid, written or not")
    skipped_chip_ids: tuple[int, ...] = Field(default=(), description="chips entirely nodata")
    samscape_version: str
    created: str = Field(description="UTC ISO 8601 time the folder was started")

    @model_validator(mode="after")
    def _consistent(self) -> FolderMetadata:
        pre = self.preprocessing
        if pre.chip_size != self.model.input_size:
            raise ValueError(f"chip size {pre.chip_size} is not the model's input size "
                             f"{self.model.input_size}")
        names = FEATURE_NAMES[self.model.family]
        if sorted(self.feature_shapes) != sorted(names):
            raise ValueError(f"features {sorted(self.feature_shapes)} are not those of a "
                             f"{self.model.family} model {list(names)}")
        count = (chip_count(pre.grid.width, pre.chip_size, pre.stride)
                 * chip_count(pre.grid.height, pre.chip_size, pre.stride))
        if count > MAX_CHIPS:
            raise ValueError(f"its grid of {pre.grid.width:,} x {pre.grid.height:,} px holds {count:,} "
                             f"chips, more than the {MAX_CHIPS:,} a folder may hold")
        if count != self.grid_chip_count:
            raise ValueError(f"grid_chip_count {self.grid_chip_count} is not the {count} chips of "
                             f"its {pre.grid.width} x {pre.grid.height} px grid")
        if not all(0 <= c < count for c in self.skipped_chip_ids):
            raise ValueError(f"skipped_chip_ids hold chips outside the grid of {count}")
        return self

    def same_encoding(self, other: FolderMetadata) -> bool:
        """True when both describe the same features (model, preprocessing, dtype)."""
        fields = ("model", "preprocessing", "dtype", "feature_shapes", "grid_chip_count")
        return all(getattr(self, f) == getattr(other, f) for f in fields)
