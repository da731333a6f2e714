"""The thread policy (samscape/threads.py): `--threads` and SAMSCAPE_THREADS reach torch in a real
`samscape encode` (its JSON summary reports torch.get_num_threads()), bad values are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samscape.threads import cores, default_threads

ENCODE = [sys.executable, "-m", "samscape.cli.main", "encode"]


def _encode(raster: Path, out: Path, *flags: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*ENCODE, str(raster), str(out), "--model", "demo", "--json", *flags],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})


def test_the_option_and_the_variable_set_torchs_threads(make_raster, tmp_path: Path) -> None:
    raster = make_raster(width=256, height=256)
    runs = {"option": (["--threads", "2"], {}, min(2, cores())),
            "at most one per core": (["--threads", "64"], {}, cores()),
            "variable": ([], {"SAMSCAPE_THREADS": "2"}, 2),
            "option over MKL_NUM_THREADS": (["--threads", "2"], {"MKL_NUM_THREADS": "1"}, min(2, cores())),
            "option wins": (["--threads", "1"], {"SAMSCAPE_THREADS": "2"}, 1)}
    for name, (flags, env, expected) in runs.items():
        run = _encode(raster, tmp_path / name.replace(" ", "-"), *flags, env=env)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["threads"] == expected, name


def test_without_a_choice_omp_num_threads_is_left_to_torch(make_raster, tmp_path: Path) -> None:
    run = _encode(make_raster(width=256, height=256), tmp_path / "ff",
                  env={"OMP_NUM_THREADS": "2", "SAMSCAPE_THREADS": ""})
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["threads"] == 2


@pytest.mark.parametrize(("flags", "env", "named"), [
    (["--threads", "0"], {}, "--threads '0'"),
    (["--threads", "two"], {}, "--threads 'two'"),
    ([], {"SAMSCAPE_THREADS": "-1"}, "SAMSCAPE_THREADS '-1'"),
])
def test_a_bad_thread_count_is_a_one_line_error(tmp_path: Path, flags: list[str], env: dict,
                                                 named: str) -> None:
    run = _encode(tmp_path / "none.tif", tmp_path / "ff", *flags, env=env)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"samscape: error: {named} is not valid: give a whole number of threads")


def test_interactive_work_gets_few_threads_and_batch_work_every_core() -> None:
    assert [default_threads("interactive", n) for n in (1, 2, 4, 8, 16, 64)] == [1, 1, 1, 2, 4, 4]
    assert [default_threads("batch", n) for n in (1, 2, 16)] == [1, 2, 16]


def test_a_segmenter_decodes_on_the_interactive_count_and_gives_torchs_back(
        make_raster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python API applies no policy up front: each object runs on the interactive count."""
    import torch

    import samscape
    import samscape.threads
    from samscape.models.decoder import CachedDecoder
    from samscape.segment import PromptSet

    for name in ("OMP_NUM_THREADS", "SAMSCAPE_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(samscape.threads, "_applied", None)
    raster = make_raster(width=256, height=256)
    samscape.encode(str(raster), tmp_path / "ff", model="demo", progress=False)
    segmenter = samscape.Segmenter(samscape.open_source(tmp_path / "ff"))
    seen: list[int] = []
    decode = CachedDecoder.decode
    monkeypatch.setattr(CachedDecoder, "decode",
                        lambda self, *a, **k: seen.append(torch.get_num_threads()) or decode(self, *a, **k))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        point = PromptSet(segmenter.source.crs).add_point(500064.0, 3999936.0)
        segmenter.segment(point)
        assert seen == [default_threads("interactive")] and torch.get_num_threads() == 3
        monkeypatch.setenv("SAMSCAPE_THREADS", "2")
        segmenter.segment(point)
        assert seen[-1] == min(2, cores()) and torch.get_num_threads() == 3
        monkeypatch.setattr(samscape.threads, "_applied", 3)  # a command applied the policy
        segmenter.segment(point)
        assert seen[-1] == 3
    finally:
        torch.set_num_threads(before)
