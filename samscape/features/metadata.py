"""The feature folder's file-level metadata (format version 1), validated with pydantic."""

from __future__ import annotations

from typing import Literal

from affine import Affine
from pydantic import BaseModel, ConfigDict, Field
from rasterio.crs import CRS

from ..geo import PixelGrid

FORMAT_NAME = "samscape-features"
FORMAT_VERSION = 1
METADATA_KEY = b"samscape"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())


class ModelRecord(_Record):
    """Which weights made the features."""

    id: str
    family: Literal["sam", "sam2"]
    repository: str | None
    revision: str | None
    weights_sha256: str
    input_size: int


class GridRecord(_Record):
    """The processing grid: pixel size of the whole area, its affine transform, its CRS (WKT)."""

    width: int
    height: int
    transform: tuple[float, float, float, float, float, float]
    crs: str

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
    bands: tuple[int, int, int] = Field(description="1-based band indexes fed as R, G, B")
    value_range: tuple[float, float] = Field(description="raster values mapped to 0 and 255")
    crs: str = Field(description="CRS of the processing grid, 'EPSG:n' or WKT")
    resolution: tuple[float, float] = Field(description="pixel size (x, y) in map units")
    extent: tuple[float, float, float, float] = Field(description="xmin, ymin, xmax, ymax")
    grid: GridRecord
    chip_size: int
    stride: int
    resize: Literal["longest_side_pad", "square"]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


class FolderMetadata(_Record):
    """Everything a reader needs besides the chips: model, preprocessing, storage, progress."""

    format: Literal["samscape-features"] = FORMAT_NAME
    format_version: Literal[1] = FORMAT_VERSION
    model: ModelRecord
    preprocessing: PreprocessingRecord
    dtype: Literal["float16", "float32"]
    feature_shapes: dict[str, tuple[int, int, int]] = Field(description="name → (C, H, W)")
    grid_chip_count: int = Field(description="chips in the full grid, written or not")
    skipped_chip_ids: tuple[int, ...] = Field(default=(), description="chips entirely nodata")
    samscape_version: str
    created: str = Field(description="UTC ISO 8601 time the folder was started")

    def same_encoding(self, other: FolderMetadata) -> bool:
        """True when both describe the same features (model, preprocessing, dtype)."""
        fields = ("model", "preprocessing", "dtype", "feature_shapes", "grid_chip_count")
        return all(getattr(self, f) == getattr(other, f) for f in fields)
