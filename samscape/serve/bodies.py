"""Request bodies of the HTTP API: finite, bounded numbers (JSON numbers only: no true, no "1"),
bounded sizes, no unknown fields."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..vector import VectorOptions

MAX_POINTS = 200
PATH = Field(min_length=1, max_length=4096)
CRS_TEXT = Field(None, description="'EPSG:n', an EPSG code, WKT or PROJ; default: the source's")
CrsIn = Annotated[str, Field(max_length=10_000)] | Annotated[int, Field(strict=True, gt=0, lt=2**31)]
MAX_COORD = 1e12  # map units; the Earth is 4e7 m round, so no CRS's coordinates come near
MAX_VALUE = 3.4e38  # a raster value: float32's range (a wider one overflows when scaled)
Coord = Annotated[float, Field(strict=True, ge=-MAX_COORD, le=MAX_COORD)]
Value = Annotated[float, Field(strict=True, ge=-MAX_VALUE, le=MAX_VALUE)]
Percent = Annotated[float, Field(strict=True, ge=0, le=100)]
Label = Annotated[int, Field(strict=True, ge=0, le=1, description="1: foreground, 0: background")]
Box = tuple[Coord, Coord, Coord, Coord]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ImportModelRequest(Body):
    path: str = PATH
    id: str = Field(min_length=1, max_length=200, description="the model's id in the store")


class OpenRequest(Body):
    path: str = PATH
    model: str | None = Field(None, max_length=200, description=(
        "required for a raster (live); a feature folder brings its own, but for a Geo-SAM folder it "
        "names the model whose weights encoded it (e.g. one imported from a fine-tuned or renamed "
        "checkpoint) when the checkpoint's file name is not enough"))
    raster: str | None = Field(None, max_length=4096, description="a feature folder's raster, "
                               "for the map [default: found beside the folder]")


class Vectorise(Body):
    max_polygon_only: bool = Field(False, strict=True)
    vectorize: Literal["pixel", "simplified"] = "pixel"

    def options(self) -> VectorOptions:
        return VectorOptions(mode=self.vectorize, max_polygon_only=self.max_polygon_only)


class PointIn(Body):
    x: Coord
    y: Coord
    label: Label = 1


class SegmentRequest(Vectorise):
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_POINTS)
    box: Box | None = Field(None, description="xmin, ymin, xmax, ymax")
    crs: CrsIn | None = CRS_TEXT


class SessionRequest(Vectorise):
    source: str = Field(min_length=1, max_length=20)
    output: str | None = Field(None, max_length=4096, description="output layer (.gpkg, .shp, "
                               ".geojson, .fgb, .parquet); an existing one is appended to")
    crs: CrsIn | None = CRS_TEXT


class BoxIn(Body):
    box: Box = Field(description="xmin, ymin, xmax, ymax")


class PreviewRequest(Body):
    x: Coord | None = None
    y: Coord | None = None
    label: Label = 1
    box: Box | None = None

    @model_validator(mode="after")
    def _whole_point(self) -> PreviewRequest:
        if (self.x is None) != (self.y is None):
            raise ValueError("give both x and y of the point, or neither")
        return self


class OutputRequest(Body):
    path: str = PATH


class GroupRequest(Body):
    crs: CrsIn | None = Field(None, description="the client's layer's CRS; default: the session's")


class EncodeRequest(Body):
    """The Encoder Copilot's choices for one raster; they become `EncodeSettings`."""

    raster: str = PATH
    model: str = Field(min_length=1, max_length=200)
    bands: list[Annotated[int, Field(strict=True)]] | None = Field(None, min_length=1, max_length=3,
                                                                   description="1-based")
    value_range: tuple[Value, Value] | None = Field(None, description="[default: percentiles]")
    percentiles: tuple[Percent, Percent] = (2.0, 98.0)
    resolution_scale: float = Field(1.0, strict=True, gt=0, le=1000, description="pixel size × this")
    overlap: float = Field(50.0, strict=True, ge=0, le=90, description="% of a chip shared with the next")
    extent: Box | None = Field(None, description="xmin, ymin, xmax, ymax in `extent_crs` "
                               "[default: the whole raster]")
    extent_crs: CrsIn | None = Field(None, description="the CRS of `extent` (e.g. a map's drawn "
                                     "in) [default: the raster's]")
    batch_size: Annotated[int, Field(strict=True, ge=1, le=64)] | Literal["auto"] = Field(
        "auto", description="chips encoded together; auto: the largest that fits and helps on the "
                            "server's device")


class PlanRequest(EncodeRequest):
    measure: bool = Field(False, strict=True, description="encode a few chips to estimate time and disk size")


class JobRequest(EncodeRequest):
    out: str = PATH
