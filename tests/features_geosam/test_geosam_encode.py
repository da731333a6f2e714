"""`encode --format geosam`: encoded into a hidden samscape folder beside OUT (resumable), converted
into OUT by `convert` (the one writer of Geo-SAM's format), refused up front where convert would
refuse, nothing left beside OUT but OUT."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner

import samscape
from samscape.cli.main import cli
from samscape.encoder import encoding_folder
from samscape.errors import FeatureFolderError, FolderConflictError, SettingsError
from samscape.features import FeatureFolder, open_folder
from samscape.features.geosam import COLUMNS, GeosamFolder
from samscape.segment import PromptSet, Segmenter
from samscape.sources import open_source

TINY = {"model": "tiny-random-sam", "checkpoint": "tiny-random-sam.pt", "progress": False}


def beside(folder: Path) -> list[str]:
    """The names in `folder`'s parent, the raster left out."""
    return sorted(p.name for p in folder.parent.iterdir() if p.suffix != ".tif")


def test_the_geosam_folder_is_what_convert_writes_from_an_encoding(make_raster, tmp_path: Path) -> None:
    raster = str(make_raster(width=300, height=260))
    ref = tmp_path / "ref" / "samscape"
    samscape.encode(raster, ref, model="tiny-random-sam", progress=False)
    expected = samscape.convert(ref, tmp_path / "ref" / "geosam", to="geosam",
                                checkpoint="tiny-random-sam.pt", progress=False)
    out = tmp_path / "out" / "geosam"
    result = samscape.encode(raster, out, format="geosam", **TINY)
    assert result.folder == out and result.encoded == result.grid_chip_count == 4
    assert beside(out) == ["geosam"]  # the encoding folder removed
    assert isinstance(open_folder(out), GeosamFolder) and open_folder(out).problems() == {}
    table, reference = pq.read_table(out / "manifest.parquet"), pq.read_table(expected / "manifest.parquet")
    assert tuple(table.column_names) == COLUMNS
    assert table.drop(["feature_path"]).equals(reference.drop(["feature_path"]))
    assert table["feature_path"][0].as_py() == str(out.resolve() / "features" / "chip_000000.pt")
    for chip in sorted((expected / "features").iterdir()):
        ours = torch.load(out / "features" / chip.name, weights_only=True)
        theirs = torch.load(chip, weights_only=True)
        assert torch.equal(ours.pop("features"), theirs.pop("features")) and ours == theirs
    with open_source(out) as source:
        x, y = source.grid.transform @ (150.5, 130.5)
        assert Segmenter(source).segment(PromptSet(source.crs).add_point(x, y)).mask.shape == (260, 300)


def test_refused_before_anything_is_encoded(make_raster, tmp_path: Path) -> None:
    raster = str(make_raster(width=200, height=150))
    out = tmp_path / "out"
    with pytest.raises(FeatureFolderError, match="Geo-SAM does not know model 'tiny-random-sam'"):
        samscape.encode(raster, out, format="geosam", model="tiny-random-sam", progress=False)
    with pytest.raises(SettingsError, match="does not name model"):
        samscape.encode(raster, out, format="geosam", model="tiny-random-sam", checkpoint="sam_b.pt",
                        progress=False)
    with pytest.raises(SettingsError, match="base path 'here' is not valid"):
        samscape.encode(raster, out, format="geosam", base_path="here", **TINY)
    with pytest.raises(FeatureFolderError, match="stretched to a square"):  # SAM 2 chips under 256 px
        samscape.encode(raster, out, format="geosam", model="tiny-random-sam2",
                        checkpoint="tiny-random-sam2.pt", progress=False)
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FolderConflictError, match="not empty"):
        samscape.encode(raster, out, format="geosam", **TINY)
    assert beside(out) == ["out"] and [p.name for p in out.iterdir()] == ["notes.txt"]
    for bad, message in (({"format": "tiff"}, "format 'tiff' is not valid"),
                         ({"base_path": "/x"}, "only for format geosam"),
                         ({"keep_encoding": True}, "only for format geosam")):
        with pytest.raises(SettingsError, match=message):
            samscape.encode(raster, tmp_path / "other", model="tiny-random-sam", progress=False, **bad)
    assert not (tmp_path / "other").exists()


def test_an_interrupted_run_resumes_in_its_encoding_folder(make_raster, tmp_path: Path) -> None:
    raster = str(make_raster(width=300, height=260))
    out = tmp_path / "geosam"
    work = encoding_folder(out)
    assert work == tmp_path / ".geosam.samscape-encoding"

    def stop_encoding(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        samscape.encode(raster, out, format="geosam", batch_size=1, **{**TINY, "progress": stop_encoding})
    assert not out.exists() and 2 <= len(FeatureFolder.open(work)) < 4  # the loop writes ahead

    steps: list[str] = []

    def stop_converting(done: int, total: int) -> None:
        if steps and done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        samscape.encode(raster, out, format="geosam", batch_size=1, on_step=steps.append,
                        **{**TINY, "progress": stop_converting})
    assert steps[-1] == "converting"
    assert not out.exists() and beside(out) == [work.name] and len(FeatureFolder.open(work)) == 4

    result = samscape.encode(raster, out, format="geosam", **TINY)
    assert (result.encoded, result.already_done) == (0, 4)
    assert beside(out) == ["geosam"] and len(open_folder(out)) == 4


def test_keep_encoding_and_leftovers(make_raster, tmp_path: Path) -> None:
    raster = str(make_raster(width=300, height=260))
    out = tmp_path / "geosam"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    leftover = tmp_path / f".geosam.samscape-encoding.{dead}.0123456789ab.tmp"  # a killed removal's
    (leftover / "features").mkdir(parents=True)
    samscape.encode(raster, out, format="geosam", keep_encoding=True, **TINY)
    assert beside(out) == [".geosam.samscape-encoding", "geosam"]
    kept = FeatureFolder.open(encoding_folder(out))
    assert kept.metadata.model.id == "tiny-random-sam" and len(kept) == 4

    # Another encoding (here: of another raster) into OUT is refused, and the kept encoding stays.
    other = str(make_raster(name="other.tif", width=260, height=260))
    with pytest.raises(FolderConflictError, match="is not empty"):
        samscape.encode(other, out, format="geosam", **TINY)
    assert beside(out) == [".geosam.samscape-encoding", "geosam"]

    # As a run killed after writing OUT, before removing its encoding, leaves them: the same command
    # again finds OUT written from that encoding, removes the encoding and reports the chips done.
    result = samscape.encode(raster, out, format="geosam", **TINY)
    assert (result.encoded, result.already_done, result.folder) == (0, 4, out)
    assert beside(out) == ["geosam"] and len(open_folder(out)) == 4


def test_cli_encode_format_geosam(make_raster, tmp_path: Path) -> None:
    runner = CliRunner()
    raster = str(make_raster(width=300, height=260))
    out = tmp_path / "geosam"
    args = ["encode", raster, str(out), "--model", "demo", "--format", "geosam", "--checkpoint", "demo.pt",
            "--base-path", "/data/geosam", "--progress-json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    converting = lines.index({"step": "converting"})
    assert lines[converting - 1] == {"done": 4, "total": 4}
    assert lines[converting + 1] == {"done": 1, "total": 4}
    assert lines[-1]["format"] == "geosam" and lines[-1]["folder"] == str(out)
    assert pq.read_table(out / "manifest.parquet")["feature_path"][0].as_py() == \
        "/data/geosam/features/chip_000000.pt"
    assert open_folder(out).metadata.model.id == "demo" and beside(out) == ["geosam"]
    again = runner.invoke(cli, args)
    assert again.exit_code != 0 and "not empty" in again.output and "Traceback" not in again.output
    wrong = runner.invoke(cli, ["encode", raster, str(tmp_path / "x"), "--model", "demo", "--checkpoint",
                                "demo.pt"])
    assert wrong.exit_code != 0 and "only for format geosam" in wrong.output
