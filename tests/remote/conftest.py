"""A local HTTP server that honours Range requests, counting what it serves, and a large COG."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.io import MemoryFile

import samscape

COG_SIDE = 8192
CHUNK = 64 * 2**10
MODEL = "demo"
EXTENT = "502000,3998244,502256,3998500"
"""512 × 512 px (3 × 3 demo chips of 256 px at stride 128) near the middle of the 8192² COG."""


@dataclass
class Served:
    """What the server sent: requests and body bytes per file name."""

    requests: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, name: str) -> None:
        with self.lock:
            self.requests[name] = self.requests.get(name, 0) + 1

    def add(self, name: str, sent: int) -> None:
        with self.lock:
            self.bytes[name] = self.bytes.get(name, 0) + sent

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes.clear()


class RangeServer(ThreadingHTTPServer):
    """Serves the files of `folder` (GET/HEAD, one 'bytes=a-b' range), counting into `served`;
    403 for any name starting with 'private'."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.served = Served()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RangeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._send(body=False)

    def do_GET(self) -> None:
        self._send(body=True)

    def _send(self, body: bool) -> None:
        name = self.path.split("?", 1)[0].lstrip("/")
        path = self.server.folder / name
        if name.startswith("private"):
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/" in name or not path.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.served.request(name)
        size = path.stat().st_size
        start, end = 0, size - 1
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match:
            start, end = int(match[1]), min(size - 1, int(match[2])) if match[2] else size - 1
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if body:
            self._stream(path, name, start, end + 1)

    def _stream(self, path: Path, name: str, start: int, stop: int) -> None:
        """Send bytes [start, stop) in 64 KiB pieces, counting those the socket took: a client that
        has what it needs (GDAL after a size probe) closes the connection."""
        with path.open("rb") as f:
            f.seek(start)
            while start < stop:
                data = f.read(min(CHUNK, stop - start))
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return
                self.server.served.add(name, len(data))
                start += len(data)


@pytest.fixture(scope="session")
def http_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the test HTTP server serves: cog.tif (a large COG), plain.tif (striped), notes.txt."""
    folder = tmp_path_factory.mktemp("served")
    (folder / "notes.txt").write_text("not a raster\n" * 100)
    write_cog(folder / "cog.tif", COG_SIDE)
    return folder


@pytest.fixture(scope="session")
def http_server(http_folder: Path) -> Iterator[RangeServer]:
    server = RangeServer(http_folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_gdal_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loopback server is reached directly, whatever proxy the machine sets."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "GDAL_HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")


@pytest.fixture(scope="session")
def encoded_pair(http_server, http_folder, tmp_path_factory) -> tuple[Path, Path, int]:
    """The COG encoded over HTTP and from the local file (same extent); bytes served for the URL."""
    root = tmp_path_factory.mktemp("remote-encode")
    http_server.served.reset()
    samscape.encode(f"{http_server.url}/cog.tif?token=secret", root / "remote",
                    model=MODEL, extent=EXTENT, progress=False)
    served = http_server.served.bytes.get("cog.tif", 0)
    samscape.encode(str(http_folder / "cog.tif"), root / "local", model=MODEL, extent=EXTENT,
                    progress=False)
    return root / "remote", root / "local", served


def write_cog(path: Path, side: int) -> Path:
    """A one-band uint8 Cloud Optimized GeoTIFF (512² deflated tiles, overviews): banded waves
    that compress to a few MB."""
    yy, xx = np.ogrid[0:side, 0:side]
    wave = 127 + 60 * np.sin(xx / 37.0) + 60 * np.cos(yy / 53.0) * np.sin((xx + yy) / 401.0)
    data = (wave // 24 * 24).astype(np.uint8)[None]
    profile = dict(driver="GTiff", width=side, height=side, count=1, dtype="uint8", crs="EPSG:32633",
                   transform=Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0))
    with MemoryFile() as memory:
        with memory.open(**profile) as ds:
            ds.write(data)
        rasterio.shutil.copy(memory.name, path, driver="COG", compress="deflate", level=1,
                             blocksize=512, overview_resampling="average")
    return path
