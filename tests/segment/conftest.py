"""Fixtures for the segmentation tests: a real raster, its real feature folder, the open source."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import samscape
from samscape.sources import FeatureSource, open_source

MODEL = "tiny-random-sam"


@pytest.fixture
def raster(make_raster: Callable[..., Path]) -> Path:
    """600 × 500 pixels, 3 bands, EPSG:32633, 0.5 m, origin (500000, 4000000): 3 × 4 chips."""
    return make_raster()


@pytest.fixture
def encode_folder(tmp_path: Path) -> Callable[..., Path]:
    """`encode_folder(raster, name="features", model=MODEL, **settings)`: a real feature folder."""

    def encode(raster: Path, name: str = "features", model: str = MODEL, **settings) -> Path:
        out = tmp_path / name
        samscape.encode(str(raster), out, model=model, progress=False, **settings)
        return out

    return encode


@pytest.fixture
def encoded(raster: Path, encode_folder: Callable[..., Path]) -> Path:
    return encode_folder(raster)


@pytest.fixture
def source(encoded: Path) -> Iterator[FeatureSource]:
    with open_source(encoded) as src:
        yield src
