"""Shared fixtures: real GeoTIFFs written with rasterio, and an isolated model store."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # read once when huggingface_hub is imported
# One OpenMP thread unless asked otherwise: the test models are tiny, and on a busy 2-core machine
# spinning OpenMP workers make every encode and decode many times slower (inherited by subprocesses).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import rasterio  # noqa: E402
from affine import Affine  # noqa: E402


@pytest.fixture(autouse=True)
def samscape_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty model store (and, from the module top, no hub access)."""
    home = tmp_path_factory.mktemp("samscape-home")
    monkeypatch.setenv("SAMSCAPE_HOME", str(home))
    return home


def mount_tmpfs(folder: Path, options: str) -> Callable[[], None]:
    """Mount a real tmpfs with `options` (e.g. 'size=256k') on `folder`, as root or through
    `sudo -n` owned by this user; returns the unmount."""
    sudo, owner = ([], "") if os.geteuid() == 0 else (["sudo", "-n"], f",uid={os.getuid()},gid={os.getgid()}")
    subprocess.run([*sudo, "mount", "-t", "tmpfs", "-o", options + owner, "tmpfs", str(folder)], check=True)
    return lambda: subprocess.run([*sudo, "umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int) -> None:
    """Write zeros to `folder/filler` until the disk refuses, then give back `leave` bytes."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
        os.ftruncate(fd, os.lseek(fd, 0, os.SEEK_CUR) - leave)
    finally:
        os.close(fd)


def finished_job(client, job: dict, seconds: float = 60.0) -> dict:
    """The state of the server's `job` (as POST /api/jobs/... answered) once it is no longer
    running, polled through the test `client` (a FastAPI TestClient)."""
    deadline = time.monotonic() + seconds
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def scene(height: int, width: int, count: int = 3, dtype: str = "uint8", seed: int = 0) -> np.ndarray:
    """(count, height, width) smooth structured values with distinct bands, in `dtype`'s range."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    bands = []
    for b in range(count):
        noise = 0.3 * rng.standard_normal((height, width))
        wave = np.sin(xx / (17.0 + 5 * b)) + np.cos(yy / (23.0 + 3 * b)) + noise
        bands.append((wave - wave.min()) / (np.ptp(wave) or 1))
    data = np.stack(bands)
    top = np.iinfo(dtype).max if np.issubdtype(np.dtype(dtype), np.integer) else 1.0
    return (data * (top * 0.9) + top * 0.05).astype(dtype)


@pytest.fixture(scope="session")
def demo_root_768(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 768² demo scene (seed 4) as scene.tif, scene_truth.gpkg and features/ (encoded with the
    demo model), encoded once per session: copy it (shutil.copytree) before changing anything."""
    import samscape
    from samscape.demo import generate_scene

    root = tmp_path_factory.mktemp("demo-root-768")
    raster, _ = generate_scene(4, 768, 768).write(root)
    samscape.encode(str(raster), root / "features", model="demo", progress=False)
    return root


@pytest.fixture
def make_raster(tmp_path: Path) -> Callable[..., Path]:
    """Write a GeoTIFF: `make_raster(width=, height=, count=, dtype=, crs=, transform=, nodata=, data=)`."""

    def make(
        name: str = "raster.tif",
        width: int = 600,
        height: int = 500,
        count: int = 3,
        dtype: str = "uint8",
        crs: str | None = "EPSG:32633",
        transform: Affine | None = None,
        nodata: float | None = None,
        data: np.ndarray | None = None,
        **profile,
    ) -> Path:
        path = tmp_path / name
        if data is None:
            data = scene(height, width, count, dtype)
        count, height, width = data.shape
        transform = transform or Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)
        with rasterio.open(
            path, "w", driver="GTiff", width=width, height=height, count=count, dtype=data.dtype,
            crs=crs, transform=transform, nodata=nodata, **profile,
        ) as ds:
            ds.write(data)
        return path

    return make
