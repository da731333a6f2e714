"""Which raster a feature folder was encoded from: found by fingerprint, beside or inside it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import rasterio

from samscape import encode
from samscape.errors import PathNotAllowedError, PathNotFoundError, RasterReadError
from samscape.features import FeatureFolder, find_raster


@pytest.fixture
def folder(make_raster: Callable[..., Path], tmp_path: Path) -> Path:
    raster = make_raster("scene.tif", width=300, height=200)
    encode(raster, tmp_path / "features", model="tiny-random-sam", progress=False)
    return tmp_path / "features"


def _metadata(folder: Path):
    return FeatureFolder.open(folder).metadata


def test_the_raster_beside_or_inside_the_folder_is_found(folder: Path) -> None:
    meta = _metadata(folder)
    assert find_raster(folder, meta) == folder.parent / "scene.tif"
    (folder.parent / "scene.tif").rename(folder / "scene.tif")
    assert find_raster(folder, meta) == folder / "scene.tif"


def test_an_edited_or_missing_raster_is_not_the_one(folder: Path) -> None:
    meta = _metadata(folder)
    raster = folder.parent / "scene.tif"
    with rasterio.open(raster, "r+") as ds:
        data = ds.read()
        data[:, 0, 0] += 1
        ds.write(data)
    assert find_raster(folder, meta) is None
    raster.unlink()
    assert find_raster(folder, meta) is None


def test_a_given_raster_must_exist_and_be_the_one(folder: Path, make_raster: Callable[..., Path]) -> None:
    meta = _metadata(folder)
    other = make_raster("other.tif", width=300, height=200, crs="EPSG:32632")
    assert find_raster(folder, meta, str(folder.parent / "scene.tif")) == folder.parent / "scene.tif"
    with pytest.raises(RasterReadError, match="is not the raster 'features' was encoded from"):
        find_raster(folder, meta, str(other))
    with pytest.raises(PathNotFoundError, match="no such file"):
        find_raster(folder, meta, str(folder.parent / "nothing.tif"))


def test_resolve_rules_out_candidates(folder: Path, tmp_path: Path) -> None:
    meta = _metadata(folder)
    shutil.copy(folder.parent / "scene.tif", folder / "scene.tif")

    def only_inside(path: str | Path) -> Path:
        if Path(path).parent != folder:
            raise PathNotAllowedError(f"'{path}' is outside")
        return Path(path)

    assert find_raster(folder, meta, resolve=only_inside) == folder / "scene.tif"
