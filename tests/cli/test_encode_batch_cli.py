"""`samscape encode --batch-size N|auto` and `--compile`: the summary names the batch size, the
progress JSON the start-up steps, and a bad value is one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from samscape.cli.main import cli
from samscape.models.tuning import CPU_BATCH_SIZE

TINY = "tiny-random-sam"


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_the_summary_names_the_batch_size(make_raster, tmp_path: Path) -> None:
    raster = make_raster()
    code, out, err = run("encode", raster, tmp_path / "a", "--model", TINY, "--json", "--quiet")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["batch_size"], summary["compiled"]) == (CPU_BATCH_SIZE, False)
    code, out, err = run("encode", raster, tmp_path / "b", "--model", TINY, "--batch-size", "3", "--quiet")
    assert code == 0, err
    assert "/s, batch size 3), 0 already done" in out


@pytest.mark.parametrize("value", ["0", "big", "2.5"])
def test_a_bad_batch_size_is_one_line(make_raster, tmp_path: Path, value: str) -> None:
    code, out, err = run("encode", make_raster(), tmp_path / "ff", "--model", TINY, "--batch-size", value)
    assert code != 0 and out == "" and not (tmp_path / "ff").exists()
    assert err == (f"samscape: error: batch size {value!r} is not valid: give a whole number of at "
                   "least 1 or auto\n")


@pytest.mark.slow
def test_compile_shows_its_step_then_encodes_compiled(make_raster, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "samscape.cli.main", "encode", make_raster(),
                           tmp_path / "ff", "--model", TINY, "--batch-size", "5", "--compile",
                           "--progress-json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines[:4] == [{"step": "compiling"}, {"done": 5, "total": 12}, {"done": 10, "total": 12},
                         {"done": 12, "total": 12}]
    assert lines[4]["compiled"] is True and lines[4]["batch_size"] == 5 and len(lines) == 5
