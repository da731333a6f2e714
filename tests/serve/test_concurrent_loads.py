"""Sources opened at the same time on a fresh server each load the model without breaking it."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import samscape


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_concurrent_opens_on_a_fresh_server_all_load(make_raster, tmp_path: Path) -> None:
    rasters = [make_raster(f"scene{i}.tif", width=256, height=256) for i in range(2)]
    samscape.encode(str(rasters[0]), tmp_path / "features", model="demo", progress=False)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "serve", "--root",
                               str(tmp_path), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.2)
        # Nothing is loaded yet: ten opens of the feature folder and two live rasters (each with
        # its own cache) load the demo model at once, as users clicking Load together would.
        bodies = [{"path": "features"}] * 10 + [{"path": r.name, "model": "demo"} for r in rasters]
        barrier = threading.Barrier(len(bodies))
        answers: list[httpx.Response | None] = [None] * len(bodies)

        def post(i: int) -> None:
            barrier.wait()
            answers[i] = httpx.post(f"{base}/api/sources", json=bodies[i], timeout=120)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [a.status_code for a in answers] == [201] * len(bodies), [a.text for a in answers]
        # and the server still works afterwards: another open, and a click on each source
        later = httpx.post(f"{base}/api/sources", json={"path": "features"}, timeout=60)
        assert later.status_code == 201, later.text
        for answer in [*answers, later]:
            sid = answer.json()["id"]
            click = httpx.post(f"{base}/api/sources/{sid}/segment", timeout=60,
                               json={"points": [{"x": 500064.0, "y": 3999936.0}]})
            assert click.status_code == 200, click.text
    finally:
        server.terminate()
        server.wait(timeout=30)
