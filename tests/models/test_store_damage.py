"""A damaged provenance record in the model store: the other models are still listed, the damaged
one is marked with its fix, and using it is a one-line error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from samscape.errors import ModelStoreError
from samscape.models import describe, get_spec, import_folder, load_backend, model_path, status
from samscape.models.store import PROVENANCE, models_dir

DAMAGE = {
    "truncated": b'{"id": "my-bad", "family": "sa',
    "empty": b"",
    "not an object": b"[1, 2]",
    "binary": b"\xff\xfe\x00garbage\x80",
    "no family": json.dumps({"input_size": 256, "weights_sha256": "0" * 64}).encode(),
    "bad size": json.dumps({"family": "sam", "input_size": "big", "weights_sha256": "0" * 64}).encode(),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "tiny"
    load_backend("tiny-random-sam", device="cpu").model.save_pretrained(folder)
    return folder


def samscape_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "samscape.cli.main", *args], capture_output=True,
                          text=True, env=os.environ.copy(), timeout=120)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("samscape: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_import_is_listed_as_broken_with_its_fix(saved: Path, damage: str) -> None:
    import_folder(saved, "my-good")
    import_folder(saved, "my-bad")
    (model_path("my-bad") / PROVENANCE).write_bytes(DAMAGE[damage])

    assert status("my-good") == "imported" and status("my-bad") == "broken"
    row = describe("my-bad")
    assert row["status"] == "broken" and "samscape models remove my-bad" in row["problem"]
    assert describe("my-good")["problem"] is None
    with pytest.raises(ModelStoreError, match="my-bad.*damaged.*samscape models remove my-bad"):
        get_spec("my-bad")
    with pytest.raises(ModelStoreError, match="damaged"):
        load_backend("my-bad", device="cpu")
    assert load_backend("my-good", device="cpu").info.id == "my-good"


@pytest.mark.slow
def test_models_list_and_remove_through_the_cli(saved: Path, make_raster) -> None:
    import_folder(saved, "my-good")
    import_folder(saved, "my-bad")
    (model_path("my-bad") / PROVENANCE).write_text('{"family": ')
    # a catalogue model whose downloaded record was cut short
    (models_dir() / "slimsam-50").mkdir()
    (models_dir() / "slimsam-50" / PROVENANCE).write_text("")

    listed = samscape_cli("models", "list")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert {"sam-vit-base", "demo", "tiny-random-sam", "my-good", "my-bad", "slimsam-50"} <= set(lines)
    assert lines["my-good"].split()[1] == "imported"
    assert lines["my-bad"].split()[1] == "broken" and "samscape models remove my-bad" in lines["my-bad"]
    assert "samscape models import FOLDER --id my-bad" in lines["my-bad"]
    assert lines["slimsam-50"].split()[1] == "broken"
    assert "samscape models download slimsam-50" in lines["slimsam-50"]
    rows = {r["id"]: r for r in json.loads(samscape_cli("models", "list", "--json").stdout)}
    assert rows["my-bad"]["status"] == "broken" and rows["my-good"]["status"] == "imported"

    raster = make_raster(width=64, height=64)
    line = one_error_line(samscape_cli("encode", str(raster), str(raster.parent / "f"),
                                       "--model", "my-bad", "-q"))
    assert "my-bad" in line and "samscape models remove my-bad" in line
    line = one_error_line(samscape_cli("encode", str(raster), str(raster.parent / "g"),
                                       "--model", "slimsam-50", "-q"))
    assert "samscape models download slimsam-50" in line

    removed = samscape_cli("models", "remove", "my-bad")
    assert removed.returncode == 0, removed.stderr
    assert samscape_cli("models", "remove", "slimsam-50").returncode == 0
    listed = samscape_cli("models", "list").stdout
    assert "my-bad" not in listed and "broken" not in listed and "my-good" in listed
