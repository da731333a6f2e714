"""`samscape encode --progress-json` as a program reads it (the QGIS Processing algorithm): real
processes, one JSON object per stdout line; SIGTERM stops a run as Ctrl+C does, resumable."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

ENCODE = [sys.executable, "-m", "samscape.cli.main", "encode"]


def lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_one_progress_line_per_batch_then_the_result(make_raster, tmp_path: Path) -> None:
    raster = make_raster()
    proc = subprocess.run([*ENCODE, raster, tmp_path / "ff", "--model", "tiny-random-sam",
                           "--batch-size", "5", "--progress-json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    *progress, result = lines(proc.stdout)
    assert progress == [{"done": 5, "total": 12}, {"done": 10, "total": 12}, {"done": 12, "total": 12}]
    assert result["encoded"] == 12 and result["already_done"] == 0 and result["grid_chip_count"] == 12
    assert Path(result["folder"]) == tmp_path / "ff"
    assert "encoding" not in proc.stderr  # no progress bar

    again = subprocess.run([*ENCODE, raster, tmp_path / "ff", "--model", "tiny-random-sam",
                            "--progress-json"], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and lines(again.stdout)[-1]["already_done"] == 12
    assert len(lines(again.stdout)) == 1


def test_an_error_is_one_line_on_stderr_and_nothing_on_stdout(tmp_path: Path) -> None:
    proc = subprocess.run([*ENCODE, tmp_path / "missing.tif", tmp_path / "ff", "--model",
                           "tiny-random-sam", "--progress-json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("samscape: error: cannot open raster")


def test_sigterm_stops_like_ctrl_c_and_the_run_resumes(make_raster, tmp_path: Path) -> None:
    raster = make_raster(width=768, height=768)  # 25 chips of the demo model's 256 px
    out = tmp_path / "ff"
    command = [*ENCODE, raster, out, "--model", "demo", "--batch-size", "1", "--progress-json"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert first == {"done": 1, "total": 25}
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err == "samscape: interrupted; run the same command again to resume\n"
    assert all(set(item) == {"done", "total"} for item in lines(rest))  # no result line

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    *progress, result = lines(resumed.stdout)
    assert 1 <= result["already_done"] < 25 and result["already_done"] + result["encoded"] == 25
    assert progress[-1] == {"done": result["encoded"], "total": result["encoded"]}
    check = subprocess.run([sys.executable, "-m", "samscape.cli.main", "info", out, "--validate"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
