"""A root folder with a demo scene encoded with the demo model, shared by the server tests."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

import samscape
from samscape.demo import generate_scene
from samscape.serve import Roots, create_app


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, demo_root_768: Path) -> Path:
    """A root folder with a 768² demo scene, its ground truth, and its feature folder."""
    root = tmp_path_factory.mktemp("root")
    shutil.copytree(demo_root_768, root, dirs_exist_ok=True)
    (root / "notes").mkdir()
    return root


@pytest.fixture(scope="module")
def scene():
    return generate_scene(4, 768, 768)


@pytest.fixture
def client(root: Path) -> TestClient:
    return TestClient(create_app(Roots.of(root)), base_url="http://127.0.0.1")


class Served:
    """`app` served by uvicorn in a thread on a free loopback port; `http` is a client for it."""

    def __init__(self, app) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        self.http = httpx.Client(base_url=self.url, timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def small_scene():
    return generate_scene(4, 256, 256)


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory, small_scene) -> Path:
    """Like `root`, with a 256² scene (one chip): for tests of the server, not of segmentation."""
    root = tmp_path_factory.mktemp("small-root")
    raster, _ = small_scene.write(root)
    samscape.encode(str(raster), root / "features", model="demo", progress=False)
    (root / "notes").mkdir()
    return root


@pytest.fixture(scope="module")
def served(small_root: Path) -> Iterator[Served]:
    """A real server over `small_root` on loopback, as `samscape serve` runs it."""
    with Served(create_app(Roots.of(small_root))) as served:
        yield served


@pytest.fixture(scope="module")
def largest(scene):
    """largest(cls): the scene's largest object of a class."""
    return lambda cls: max((o for o in scene.objects if o.cls == cls), key=lambda o: o.geometry.area)
