"""Encode jobs run in a child process (`samscape encode --threads N`, N: the cores the server's
decoder leaves), so the server's own torch threads stay as they are; stopping the server stops
the child, and the same encoding resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from samscape.demo import generate_scene
from samscape.features import FeatureFolder
from samscape.serve.jobs import Job, Jobs
from samscape.settings import EncodeSettings
from samscape.threads import encode_job_threads

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes in /proc")


def _children(parent: int | None = None) -> dict[int, list[str]]:
    """The child processes of `parent` (default: this process): pid → command line."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                words = (entry / "cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == (parent or os.getpid()):
                children[int(entry.name)] = words
    return children


def _encoders(parent: int | None = None) -> dict[int, list[str]]:
    return {pid: words for pid, words in _children(parent).items() if "encode" in words}


def _wait(job: Job, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)


def test_an_encode_job_runs_in_its_own_process(client: TestClient, root: Path) -> None:
    threads = torch.get_num_threads()
    job = client.post("/api/jobs/encode", json={"raster": "scene.tif", "model": "demo", "overlap": 0,
                                                "out": "process-features"}).json()
    seen: dict[int, list[str]] = {}
    while (job := client.get(f"/api/jobs/{job['id']}").json())["state"] == "running":
        seen.update(_encoders())
        assert torch.get_num_threads() == threads
        time.sleep(0.05)
    assert job["state"] == "done" and job["encoded"] == 9, job
    assert len(seen) == 1, seen
    words = next(iter(seen.values()))
    assert words[words.index("--threads") + 1] == str(encode_job_threads())
    assert str(root / "process-features") in words
    assert torch.get_num_threads() == threads
    assert FeatureFolder.open(root / "process-features").summary()["complete"]


def test_stopping_the_jobs_stops_the_child_and_the_encoding_resumes(tmp_path: Path) -> None:
    raster, _ = generate_scene(1, 1536, 1536).write(tmp_path)  # 36 chips
    out = tmp_path / "features"
    settings = EncodeSettings(model="demo", batch_size=1)
    jobs = Jobs()
    job = jobs.encode(str(raster), out, settings)
    deadline = time.monotonic() + 120
    while job.done == 0 and job.state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    children = _encoders()
    assert job.state == "running" and len(children) == 1, (job.to_json(), children)
    jobs.stop_all()
    _wait(job)
    assert job.state == "failed" and "stopped with the server" in (job.error or ""), job.to_json()
    assert not set(children) & set(_encoders())
    assert 0 < len(FeatureFolder.open(out).records) < 36

    again = Jobs().encode(str(raster), out, settings)
    _wait(again)
    assert again.state == "done", again.to_json()
    assert FeatureFolder.open(out).summary()["complete"]


def test_sigterm_to_the_server_stops_its_encode_job_cleanly(tmp_path: Path) -> None:
    raster, _ = generate_scene(2, 1536, 1536).write(tmp_path)  # 36 chips
    server = subprocess.Popen([sys.executable, "-m", "samscape.cli.main", "serve", "--root", str(tmp_path),
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        for line in server.stdout or ():
            if line.startswith("SAMSCAPE_READY "):
                url = json.loads(line.split(" ", 1)[1])["url"]
                break
        job = httpx.post(f"{url}/api/jobs/encode", json={"raster": raster.name, "model": "demo",
                                                         "batch_size": 1, "out": "features"}).json()
        deadline = time.monotonic() + 120
        while job["done"] == 0 and job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
            job = httpx.get(f"{url}/api/jobs/{job['id']}").json()
        children = _encoders(server.pid)
        assert job["state"] == "running" and len(children) == 1, (job, children)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    finally:
        server.kill()
        server.wait()
    assert server.returncode == -signal.SIGTERM
    child = Path("/proc") / str(next(iter(children)))
    assert not child.exists() or "encode" not in (child / "cmdline").read_bytes().decode()
    assert 0 < len(FeatureFolder.open(tmp_path / "features").records) < 36
