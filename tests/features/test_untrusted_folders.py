"""Crafted feature folders are refused with one line naming the problem: never a traceback, never
a crash later. Each bad folder is made from a good tiny one by editing its manifest or chips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import rasterio
import torch
from affine import Affine
from click.testing import CliRunner
from conftest import scene

import samscape
from samscape.cli.main import cli
from samscape.errors import FeatureFolderError
from samscape.features import FeatureFolder
from samscape.sources import open_source

TINY = "tiny-random-sam"
ORIGIN = (500000.0, 4000000.0)


def _set(meta: dict, dotted: str, value) -> None:
    *parents, key = dotted.split(".")
    for name in parents:
        meta = meta[name]
    meta[key] = value


def _edit_manifest(folder: Path, edit: Callable[[dict], None]) -> None:
    path = folder / "manifest.parquet"
    table = pq.read_table(path)
    schema_meta = dict(table.schema.metadata)
    meta = json.loads(schema_meta[b"samscape"])
    edit(meta)
    schema_meta[b"samscape"] = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata(schema_meta), path)


def _edit_chips(folder: Path, features: Callable[[dict], dict]) -> None:
    for chip in (folder / "features").glob("chip_*.pt"):
        payload = torch.load(chip, weights_only=True)
        payload["features"] = features(payload["features"])
        torch.save(payload, chip)


def _wrong_shapes(folder: Path) -> None:
    """Manifest and chips agree with each other on a shape the model cannot take."""
    _edit_chips(folder, lambda f: {k: v[:8, :8, :8].contiguous() for k, v in f.items()})
    _edit_manifest(folder, lambda m: _set(m, "feature_shapes", {"image_embeddings": [8, 8, 8]}))


def _empty_features(folder: Path) -> None:
    _edit_chips(folder, lambda f: {})
    _edit_manifest(folder, lambda m: _set(m, "feature_shapes", {}))


BAD = {
    "garbage_crs": lambda f: _edit_manifest(f, lambda m: _set(m, "preprocessing.grid.crs", "garbage")),
    "zero_transform": lambda f: _edit_manifest(
        f, lambda m: _set(m, "preprocessing.grid.transform", [0, 0, 0, 0, 0, 0])),
    "chip_size_0": lambda f: _edit_manifest(f, lambda m: _set(m, "preprocessing.chip_size", 0)),
    "negative_width": lambda f: _edit_manifest(f, lambda m: _set(m, "preprocessing.grid.width", -256)),
    "huge_grid": lambda f: _edit_manifest(f, lambda m: (_set(m, "preprocessing.grid.width", 10**6),
                                                        _set(m, "preprocessing.grid.height", 10**6))),
    "wrong_shapes": _wrong_shapes,
    "empty_features": _empty_features,
}
AT_OPEN = {"garbage_crs", "zero_transform", "chip_size_0", "negative_width", "huge_grid",
           "empty_features"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good 1-chip folder ('good') and one copy per bad case, each beside its raster."""
    root = tmp_path_factory.mktemp("untrusted")
    raster = root / "scene.tif"
    with rasterio.open(raster, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, *ORIGIN[:1], 0, -0.5, ORIGIN[1])) as ds:
        ds.write(scene(256, 256))
    samscape.encode(str(raster), root / "good", model=TINY, progress=False)
    made = {"good": root / "good"}
    for name, damage in BAD.items():
        shutil.copytree(root / "good", root / name)
        damage(root / name)
        made[name] = root / name
    return made


@pytest.fixture(scope="module")
def processes(folders: dict[str, Path]) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """`info --validate` and `segment` on every bad folder, as real processes started at once."""
    started = {}
    for name in BAD:
        folder = str(folders[name])
        out = str(folder + ".geojson")
        x, y = ORIGIN[0] + 60, ORIGIN[1] - 60
        for kind, argv in (("validate", ["info", folder, "--validate"]),
                           ("segment", ["segment", folder, "--out", out, "--point", f"{x},{y}", "-q"])):
            started[name, kind] = subprocess.Popen(
                [sys.executable, "-m", "samscape.cli.main", *argv], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, env={**os.environ})
    done = {}
    for key, proc in started.items():
        out, err = proc.communicate(timeout=300)
        done[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def test_the_good_folder_is_sound(folders):
    folder = FeatureFolder.open(folders["good"])
    assert len(folder) == 1 and not folder.problems()


@pytest.mark.parametrize("name", sorted(AT_OPEN))
def test_bad_metadata_is_refused_when_opened(folders, name):
    with pytest.raises(FeatureFolderError) as caught:
        FeatureFolder.open(folders[name])
    message = str(caught.value)
    assert "\n" not in message and str(folders[name]) in message


@pytest.mark.parametrize("name", sorted(BAD))
def test_the_model_refuses_what_it_cannot_take(folders, name):
    with pytest.raises(FeatureFolderError) as caught:
        open_source(folders[name])
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(AT_OPEN))
def test_info_is_one_line(folders, name):
    result = CliRunner().invoke(cli, ["info", str(folders[name])])
    assert result.exit_code == 1 and result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("samscape: error: "), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD))
@pytest.mark.parametrize("kind", ["validate", "segment"])
def test_validate_and_segment_fail_with_one_line(processes, folders, name, kind):
    proc = processes[name, kind]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("samscape: error: ")]
    assert errors and all(line.startswith("samscape: error: ") for line in proc.stderr.splitlines()
                          if line.strip()), proc.stderr
    assert not Path(str(folders[name]) + ".geojson").exists()


@pytest.mark.slow
def test_validate_names_the_chip_whose_features_the_model_cannot_take(processes):
    err = processes["wrong_shapes", "validate"].stderr
    assert "image_embeddings" in err and "(8, 8, 8)" in err


def test_the_server_refuses_each_bad_folder_with_a_4xx(folders):
    from fastapi.testclient import TestClient

    from samscape.serve import Roots, create_app

    client = TestClient(create_app(Roots.of(folders["good"].parent)), base_url="http://127.0.0.1",
                        raise_server_exceptions=False)
    assert client.post("/api/sources", json={"path": "good"}).status_code == 201
    for name in BAD:
        answer = client.post("/api/sources", json={"path": name})
        assert 400 <= answer.status_code < 500, (name, answer.text)
        assert "\n" not in answer.json()["detail"]
