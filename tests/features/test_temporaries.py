"""Temporaries in a feature folder shared by several writers: resuming removes only those whose
process is gone, never those of a writer still running (another thread or process)."""

from __future__ import annotations

import os
import subprocess
import sys

import samscape


def test_resume_removes_temporaries_of_dead_writers_only(make_raster, tmp_path) -> None:
    raster = str(make_raster())
    samscape.encode(raster, tmp_path / "ff", model="tiny-random-sam", progress=False)
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        features = tmp_path / "ff" / "features"
        names = {"dead": f".chip_000001.pt.{gone.pid}.0a1b2c.tmp",
                 "other process": f".chip_000002.pt.{running.pid}.0a1b2c.tmp",
                 "this process": f".chip_000003.pt.{os.getpid()}.0a1b2c.tmp",
                 "dead manifest": f"../.manifest.parquet.{gone.pid}.0a1b2c.tmp",
                 "running manifest": f"../.manifest.parquet.{running.pid}.0a1b2c.tmp"}
        for name in names.values():
            (features / name).write_bytes(b"half written")
        result = samscape.encode(raster, tmp_path / "ff", model="tiny-random-sam", progress=False)
        left = {what for what, name in names.items() if (features / name).exists()}
    finally:
        running.kill()
    assert result.encoded == 0 and len(samscape.FeatureFolder.open(tmp_path / "ff")) == 12
    assert left == {"other process", "this process", "running manifest"}
