"""Request bodies of the HTTP API: finite numbers, bounded sizes, no unknown fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..vector import VectorOptions

MAX_POINTS = 200
PATH = Field(min_length=1, max_length=4096)
CRS_TEXT = Field(None, max_length=10_000, description="'EPSG:n', WKT or PROJ; default: the source's")
Box = tuple[float, float, float, float]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class OpenRequest(Body):
    path: str = PATH
    model: str | None = Field(None, max_length=200, description="required for a raster (live)")
    raster: str | None = Field(None, max_length=4096, description="a feature folder's raster, "
                               "for the map [default: found beside the folder]")


class Vectorise(Body):
    max_polygon_only: bool = False
    vectorize: Literal["pixel", "simplified"] = "pixel"

    def options(self) -> VectorOptions:
        return VectorOptions(mode=self.vectorize, max_polygon_only=self.max_polygon_only)


class PointIn(Body):
    x: float
    y: float
    label: Literal[0, 1] = 1


class SegmentRequest(Vectorise):
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_POINTS)
    box: Box | None = Field(None, description="xmin, ymin, xmax, ymax")
    crs: str | None = CRS_TEXT


class SessionRequest(Vectorise):
    source: str = Field(min_length=1, max_length=20)
    output: str | None = Field(None, max_length=4096, description="output layer (.gpkg, .shp, "
                               ".geojson, .fgb, .parquet); an existing one is appended to")
    crs: str | None = CRS_TEXT


class BoxIn(Body):
    box: Box = Field(description="xmin, ymin, xmax, ymax")


class PreviewRequest(Body):
    x: float | None = None
    y: float | None = None
    label: Literal[0, 1] = 1
    box: Box | None = None


class OutputRequest(Body):
    path: str = PATH
