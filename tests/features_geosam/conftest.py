"""Fixtures: real GeoTIFFs and Geo-SAM v2 folders written as geosam writes them, then moved."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from .writer import write_geosam_folder


@pytest.fixture
def geosam_folder(tmp_path: Path, make_raster: Callable[..., Path]) -> Callable[..., Path]:
    """`geosam_folder(model="tiny-random-sam", checkpoint=None, stride=None, **raster)`: a raster
    written with rasterio, encoded into a Geo-SAM folder under encoded-here/, then moved to
    moved/ (its manifest's absolute paths now point where nothing is)."""

    def make(model: str = "tiny-random-sam", checkpoint: str | None = None, stride: int | None = None,
             name: str = "moved", **raster) -> Path:
        path = make_raster(**raster)
        written = write_geosam_folder(path, tmp_path / "encoded-here" / name, model,
                                      checkpoint or f"/opt/models/{model}.pt", stride=stride)
        moved = tmp_path / "elsewhere" / name
        moved.parent.mkdir(exist_ok=True)
        shutil.move(written, moved)
        return moved

    return make
