"""Encoding on a Dask cluster (samscape/cluster): the folder equals a local run's chip for chip
(tensors bitwise), a worker killed mid-run and a client killed then run again end with the same
folder, and bad or unreachable clusters are one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rasterio
import torch

import samscape
from samscape.cluster import Cluster, connect
from samscape.errors import ClusterError, SettingsError
from samscape.features import FeatureFolder

MODEL = "demo"
BATCH = 2
GRID_CHIPS = 6 * 5


@pytest.fixture(scope="module")
def raster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 896 × 768 px demo scene, its top-left chip all nodata (6 × 5 chips of 256², stride 128)."""
    from samscape.demo import generate_scene

    root = tmp_path_factory.mktemp("cluster-scene")
    path, _ = generate_scene(4, 896, 768).write(root)
    with rasterio.open(path, "r+") as ds:
        data = ds.read()
        data[:, :256, :256] = 0
        ds.write(data)
        ds.nodata = 0
    return path


@pytest.fixture(scope="module")
def local_folder(raster: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cluster-local") / "ff"
    samscape.encode(str(raster), out, model=MODEL, batch_size=BATCH, progress=False)
    return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A local cluster of 2 worker processes that the tests reach by its address."""
    with connect("local:2") as running:
        yield running


def address(cluster: Cluster) -> str:
    return cluster.client.scheduler.address


def assert_same_folder(a: Path, b: Path) -> None:
    fa, fb = FeatureFolder.open(a), FeatureFolder.open(b)
    assert fa.metadata.same_encoding(fb.metadata) and not fa.problems()
    assert sorted(fa.records) == sorted(fb.records) == list(range(1, GRID_CHIPS))
    assert fa.metadata.skipped_chip_ids == fb.metadata.skipped_chip_ids == (0,)
    for chip_id in fa.records:
        x, y = fa.load_chip(chip_id), fb.load_chip(chip_id)
        assert x.keys() == y.keys()
        assert all(torch.equal(x[name], y[name]) for name in x), chip_id
    assert not [p.name for p in (a / "features").iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_local_2_writes_the_folder_a_local_run_writes(raster, local_folder, tmp_path):
    nanny_sets = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")
    before = {key: os.environ.get(key) for key in nanny_sets}
    result = samscape.encode(str(raster), tmp_path / "ff", model=MODEL, batch_size=BATCH,
                             cluster="local:2", progress=False)
    assert (result.encoded, result.nodata, result.workers) == (GRID_CHIPS - 1, 1, 2)
    assert result.batch_size == BATCH and result.stages.model > 0
    assert_same_folder(tmp_path / "ff", local_folder)
    assert {key: os.environ.get(key) for key in nanny_sets} == before  # Dask's Nanny set them here


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_nothing(raster, local_folder, cluster, tmp_path):
    pids = cluster.client.run(os.getpid)
    victim = next(iter(pids.values()))
    reports: list[int] = []

    def progress(done: int, total: int) -> None:
        if not reports:
            os.kill(victim, signal.SIGKILL)
        reports.append(done)

    result = samscape.encode(str(raster), tmp_path / "ff", model=MODEL, batch_size=BATCH,
                             cluster=address(cluster), progress=progress)
    assert reports[0] < GRID_CHIPS and reports[-1] == GRID_CHIPS, "killed mid-run, then finished"
    assert result.encoded + result.nodata == GRID_CHIPS
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)
    assert_same_folder(tmp_path / "ff", local_folder)


@pytest.mark.slow
def test_a_killed_client_run_again_ends_with_the_same_folder(raster, local_folder, cluster, tmp_path):
    out = tmp_path / "ff"
    cmd = [sys.executable, "-m", "samscape.cli.main", "encode", str(raster), str(out), "--model", MODEL,
           "--batch-size", str(BATCH), "--cluster", address(cluster), "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob("features/chip_*.pt"))) >= 2:
            break
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    recorded = len(FeatureFolder.open(out).records)
    assert recorded < GRID_CHIPS - 1, "the client must be killed midway"
    again = samscape.encode(str(raster), out, model=MODEL, batch_size=BATCH, cluster=address(cluster),
                            progress=False)
    assert again.already_done + again.encoded + again.nodata == GRID_CHIPS
    assert_same_folder(out, local_folder)
    done = samscape.encode(str(raster), out, model=MODEL, cluster=address(cluster), progress=False)
    assert (done.encoded, done.already_done) == (0, GRID_CHIPS)


def one_line_error(*args: str, env: dict[str, str] | None = None, code: str | None = None) -> str:
    start = [sys.executable, "-c", code] if code else [sys.executable, "-m", "samscape.cli.main"]
    proc = subprocess.run([*start, *map(str, args)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("samscape: error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("value", ["local:0", "local:two", "http://scheduler:8786", "a b"])
def test_a_bad_cluster_value_is_refused_before_anything_runs(raster, tmp_path, value):
    with pytest.raises(SettingsError, match="local:N"):
        samscape.encode(str(raster), tmp_path / "ff", model=MODEL, cluster=value, progress=False)
    assert not (tmp_path / "ff").exists()


def test_more_local_workers_than_cores_are_refused_before_anything_runs(raster, tmp_path):
    many = f"local:{(os.cpu_count() or 1) * 8}"
    with pytest.raises(ClusterError, match=f"{many} asks for .* worker processes on a machine of"):
        samscape.encode(str(raster), tmp_path / "ff", model=MODEL, cluster=many, progress=False)
    assert not (tmp_path / "ff").exists()


@pytest.mark.slow
def test_bad_and_unreachable_clusters_are_one_line(raster, tmp_path):
    line = one_line_error("encode", raster, tmp_path / "ff", "--model", MODEL, "--cluster", "local:0")
    assert "cluster 'local:0' is not valid" in line
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_line_error("encode", raster, tmp_path / "ff", "--model", MODEL, "--cluster",
                          f"tcp://127.0.0.1:{port}", env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})
    assert f"cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}'" in line
    assert not (tmp_path / "ff").exists()


@pytest.mark.slow
def test_without_dask_the_cluster_is_one_line_naming_the_extra(raster, tmp_path):
    no_dask = ("import sys; sys.modules['distributed'] = None; sys.argv[0] = 'samscape'; "
               "from samscape.cli.main import main; main()")
    line = one_line_error("encode", raster, tmp_path / "ff", "--model", MODEL, "--cluster", "local",
                          code=no_dask)
    assert "pip install 'samscape[cluster]'" in line


def test_cluster_is_a_setting_of_the_machine_not_of_the_encoding():
    from samscape.settings import EncodeSettings, parse_cluster, settings_dict

    assert parse_cluster(" local:3 ").workers == 3
    assert parse_cluster("tcp://10.0.0.5:8786").address == "tcp://10.0.0.5:8786"
    assert parse_cluster("[::1]:8786").address == "[::1]:8786"
    assert settings_dict(EncodeSettings(cluster="local")) == settings_dict(EncodeSettings()) | {
        "cluster": "local"}



@pytest.mark.slow
def test_a_script_without_a_main_guard_is_told_to_add_one(raster, tmp_path):
    """Each spawned worker imports the script again: it says why in one line and ends, and the
    script gets a ClusterError naming the guard, not hundreds of lines of worker tracebacks."""
    script = tmp_path / "unguarded.py"
    script.write_text(f"import samscape\nsamscape.encode({str(raster)!r}, {str(tmp_path / 'ff')!r}, "
                      f"model={MODEL!r}, cluster='local:2', progress=False)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180,
                         cwd=tmp_path)
    assert run.returncode == 1
    lines = run.stderr.splitlines()
    assert lines[-1].startswith("samscape.errors.ClusterError: the local Dask workers did not start")
    assert 'under `if __name__ == "__main__":`' in lines[-1] and len(lines) < 60, run.stderr
    assert not (tmp_path / "ff").exists()
