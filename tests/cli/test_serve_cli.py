"""`samscape serve` as a user starts it: a real server process answering over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import samscape


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*args: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "serve", *args,
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    return process, port


def _wait(port: int, process: subprocess.Popen, **kwargs) -> httpx.Response:
    for _ in range(200):
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stderr.read()}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2, **kwargs)
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("server did not answer within 20 s")


@pytest.mark.slow
def test_serve_a_feature_folder_on_loopback(make_raster, tmp_path: Path) -> None:
    folder = tmp_path / "features"
    samscape.encode(str(make_raster(width=300, height=300)), folder, model="demo", progress=False)
    process, port = _serve(str(folder), "--device", "cpu")
    try:
        assert _wait(port, process).json() == {"version": samscape.__version__, "api": 1}
        (source_id,) = [s["id"] for s in httpx.get(f"http://127.0.0.1:{port}/api/sources").json()["sources"]]
        info = httpx.get(f"http://127.0.0.1:{port}/api/sources/{source_id}").json()
        assert info["mode"] == "pre-encoded" and info["model"] == "demo" and info["device"] == "cpu"
        session = httpx.post(f"http://127.0.0.1:{port}/api/sessions", json={"source": source_id}).json()
        httpx.delete(f"http://127.0.0.1:{port}/api/sessions/{session['id']}").raise_for_status()
        assert httpx.get(f"http://127.0.0.1:{port}/api/sources/{source_id}").status_code == 200  # kept
        # The default root is the source's folder: its parent is outside.
        outside = httpx.get(f"http://127.0.0.1:{port}/api/browse", params={"path": str(tmp_path.parent)})
        assert outside.status_code == 403
        # A web page under another name (DNS rebinding) or of another origin gets nothing.
        base = f"http://127.0.0.1:{port}"
        rebound = httpx.get(f"{base}/api/sources/{source_id}", headers={"Host": f"evil.example:{port}"})
        assert rebound.status_code == 400 and "Host" in rebound.json()["detail"]
        cross = httpx.delete(f"{base}/api/sources/{source_id}", headers={"Origin": "http://evil.example"})
        assert cross.status_code == 403 and "Origin" in cross.json()["detail"]
        assert httpx.get(f"{base}/api/sources/{source_id}").status_code == 200
        assert httpx.get(f"http://localhost:{port}/api/health").status_code == 200
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_other_hosts_need_the_printed_token(tmp_path: Path) -> None:
    process, port = _serve("--host", "0.0.0.0", "--root", str(tmp_path))
    try:
        assert _wait(port, process).status_code == 401
        app_line = next(line for line in process.stdout if "app at" in line)
        line = next(line for line in process.stdout if "token (send" in line)
        token = line.rsplit(" ", 1)[-1].strip()
        assert f"?token={token}" in app_line and f"{port}/openapi.json" in app_line
        assert f"http://{socket.gethostname()}:{port}/" in app_line  # an address other machines use
        assert _wait(port, process, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        # Bound to every address, any Host may be this machine's: the token guards instead.
        named = httpx.get(f"http://127.0.0.1:{port}/api/health", headers={
            "Authorization": f"Bearer {token}", "Host": f"samscape.lan:{port}"})
        assert named.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # the page holds no data
    finally:
        process.terminate()
        process.wait(10)


def _ready(process: subprocess.Popen) -> dict:
    """The JSON of the ready line, read from the server's stdout (lines before it are for people)."""
    for line in process.stdout:
        if line.startswith("SAMSCAPE_READY "):
            return json.loads(line.removeprefix("SAMSCAPE_READY "))
    pytest.fail(f"no ready line; the server said: {process.stderr.read()}")


def _serve_port0(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "serve", "--root", str(tmp_path),
                             "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_port_0_reports_the_chosen_port_once_ready_and_the_token_guards_loopback(tmp_path: Path) -> None:
    process = _serve_port0(tmp_path, "--token", "s3cret-token")
    try:
        ready = _ready(process)
        port = ready["port"]
        assert port > 0 and ready == {"url": f"http://127.0.0.1:{port}", "port": port,
                                      "version": samscape.__version__, "api": 1}
        # Ready means accepting: the first request answers, no retry.
        health = httpx.get(f"{ready['url']}/api/health", headers={"Authorization": "Bearer s3cret-token"})
        assert health.json() == {"version": samscape.__version__, "api": 1}
        assert httpx.get(f"{ready['url']}/api/health").status_code == 401
        wrong = httpx.get(f"{ready['url']}/api/health", headers={"Authorization": "Bearer other"})
        assert wrong.status_code == 401
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.slow
def test_the_token_comes_from_the_environment_and_is_not_printed_as_generated(tmp_path: Path) -> None:
    process = _serve_port0(tmp_path, env={"SAMSCAPE_TOKEN": "from-env"})
    try:
        ready = _ready(process)
        assert httpx.get(f"{ready['url']}/api/health").status_code == 401
        auth = {"Authorization": "Bearer from-env"}
        assert httpx.get(f"{ready['url']}/api/health", headers=auth).status_code == 200
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert "token (send" not in out


@pytest.mark.slow
def test_sigterm_stops_the_server_within_seconds(make_raster, tmp_path: Path) -> None:
    """With a live source open (its encoder thread and cache are closed on the way out)."""
    raster = make_raster(width=300, height=300)
    process = _serve_port0(tmp_path, str(raster), "--model", "demo", "--device", "cpu")
    url = _ready(process)["url"]
    (source,) = httpx.get(f"{url}/api/sources").json()["sources"]
    assert source["mode"] == "live"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(10)
    assert time.monotonic() - started < 5
    assert process.returncode == -signal.SIGTERM  # stopped cleanly, then ended by the signal as usual
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/api/health", timeout=2)


@pytest.mark.slow
def test_stop_on_eof_ends_the_server_with_its_stdin(tmp_path: Path) -> None:
    """What the QGIS plugin relies on: if QGIS dies, the pipe to the server's stdin closes."""
    process = subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "serve", "--root", str(tmp_path),
                                "--port", "0", "--stop-on-eof"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = _ready(process)["url"]
        process.stdin.write("anything written is ignored\n")
        process.stdin.flush()
        time.sleep(0.3)
        assert httpx.get(f"{url}/api/health").status_code == 200
        started = time.monotonic()
        process.stdin.close()
        assert process.wait(10) == 0
        assert time.monotonic() - started < 5
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.slow
def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "samscape.cli.main", "serve", "--root", str(tmp_path),
                                 "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and f"port {port}" in result.stderr and "--port" in result.stderr


@pytest.mark.slow
def test_a_missing_source_is_one_line_and_no_server(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "samscape.cli.main", "serve",
                             str(tmp_path / "nothing")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


def test_an_unknown_device_is_one_line_and_no_server(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "samscape.cli.main", "serve", "--root", str(tmp_path),
                             "--device", "tpu"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "unknown device" in result.stderr
