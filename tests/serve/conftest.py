"""A root folder with a demo scene encoded with the demo model, shared by the server tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import samscape
from samscape.demo import generate_scene
from samscape.serve import Roots, create_app


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root folder with a 768² demo scene, its ground truth, and its feature folder."""
    root = tmp_path_factory.mktemp("root")
    scene = generate_scene(4, 768, 768)
    raster, _ = scene.write(root)
    samscape.encode(str(raster), root / "features", model="demo", progress=False)
    (root / "notes").mkdir()
    return root


@pytest.fixture(scope="module")
def scene():
    return generate_scene(4, 768, 768)


@pytest.fixture
def client(root: Path) -> TestClient:
    return TestClient(create_app(Roots.of(root)))


@pytest.fixture(scope="module")
def largest(scene):
    """largest(cls): the scene's largest object of a class."""
    return lambda cls: max((o for o in scene.objects if o.cls == cls), key=lambda o: o.geometry.area)
