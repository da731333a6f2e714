"""Map tiles: the grid in the source's CRS, and pixels scaled exactly as the encoder scaled them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from fastapi.testclient import TestClient
from PIL import Image

import samscape
from samscape.errors import NotFoundError
from samscape.geo import PixelGrid, Window
from samscape.raster import RasterSource, ValueRange
from samscape.serve import Roots, create_app
from samscape.serve.tiles import TileGrid, TileRenderer

POLAR = "EPSG:3031"


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_tile_grid_levels_match_the_pixels_and_cover_the_extent() -> None:
    grid = PixelGrid(1000, 600, Affine(2.0, 0, 100.0, 0, -2.0, 5000.0), samscape.geo.norm_crs(POLAR))
    tiles = TileGrid.for_grid(grid)
    assert tiles.origin == (100.0, 5000.0)
    assert tiles.resolutions == (8.0, 4.0, 2.0, 1.0, 0.5)  # whole extent in one tile ... pixel/4
    assert tiles.size * tiles.resolutions[0] >= 2000
    assert tiles.bounds(2, 1, 0) == (612.0, 4488.0, 1124.0, 5000.0)
    for bad in [(5, 0, 0), (0, -1, 0), (2, 4, 0), (2, 0, 3)]:
        with pytest.raises(NotFoundError):
            tiles.bounds(*bad)


def test_a_tile_at_pixel_level_equals_the_encoders_chip(make_raster) -> None:
    """Bands 3,1,2 of a uint16 polar stereographic raster through the encoding's value range."""
    data = np.random.default_rng(0).integers(200, 3000, (3, 300, 400)).astype("uint16")
    data[:, :20, :30] = 0
    path = make_raster("polar.tif", data=data, dtype="uint16", crs=POLAR, nodata=0,
                       transform=Affine(10.0, 0, -200000.0, 0, -10.0, 150000.0))
    with RasterSource(path) as raster:
        spec = raster.spec((3, 1, 2), raster.grid, ValueRange(500, 2500))
        chip = raster.read_chip(spec, Window(0, 0, 256, 256))
        tiles = TileGrid.for_grid(raster.grid)
        renderer = TileRenderer(path, spec.bands, spec.value_range, raster.grid.crs, tiles)
    level = tiles.resolutions.index(10.0)
    rgba = _png(renderer.tile(level, 0, 0))
    assert rgba.shape == (256, 256, 4)
    valid = rgba[..., 3] == 255
    assert not valid[:20, :30].any() and valid[20:, 30:].all()  # nodata is transparent
    assert np.array_equal(rgba[..., :3][valid], chip[valid])


def test_tiles_over_http_for_a_feature_folder_found_beside_its_raster(tmp_path: Path, make_raster) -> None:
    raster = make_raster("scene.tif", crs=POLAR, transform=Affine(10.0, 0, -200000.0, 0, -10.0, 150000.0))
    samscape.encode(str(raster), tmp_path / "features", model="demo", progress=False)
    client = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    info = client.post("/api/sources", json={"path": "features"}).json()
    assert info["raster"] == str(raster.resolve()) and info["crs"] == POLAR
    assert "+proj=stere" in info["proj4"]
    grid = info["tiles"]
    assert grid["origin"] == [-200000.0, 150000.0] and grid["extent"] == info["extent"]
    answer = client.get(f"/api/sources/{info['id']}/tiles/0/0/0.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert _png(answer.content)[..., 3].any()
    assert client.get(f"/api/sources/{info['id']}/tiles/0/5/0.png").status_code == 404
    assert client.get(f"/api/sources/{info['id']}/tiles/99/0/0.png").status_code == 404


def test_a_feature_folder_without_its_raster_has_no_tiles(tmp_path: Path, make_raster) -> None:
    raster = make_raster("scene.tif")
    samscape.encode(str(raster), tmp_path / "features", model="demo", progress=False)
    other = make_raster("other.tif", width=300)
    raster.unlink()
    client = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    info = client.post("/api/sources", json={"path": "features"}).json()
    assert info["raster"] is None and info["tiles"] is None
    assert client.get(f"/api/sources/{info['id']}/tiles/0/0/0.png").status_code == 404
    wrong = client.post("/api/sources", json={"path": "features", "raster": other.name})
    assert wrong.status_code == 400 and "scene.tif" in wrong.json()["detail"]
