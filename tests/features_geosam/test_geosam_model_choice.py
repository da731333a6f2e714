"""A Geo-SAM folder whose checkpoint name samscape does not know (a fine-tuned or renamed
checkpoint) opens with a chosen model (`model=`, `--model`), checked against the folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from samscape.cli.main import cli, main
from samscape.errors import FeatureFolderError, SettingsError
from samscape.segment import PromptSet, Segmenter
from samscape.sources import open_source


def one_line_error(capsys, *args: str) -> str:
    sys.argv = ["samscape", *args]
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def mask_at(folder: Path, model: str | None, col: float, row: float) -> np.ndarray:
    with open_source(folder, model) as source:
        x, y = source.grid.transform @ (col, row)
        return Segmenter(source).segment(PromptSet(source.crs).add_point(x, y)).mask


def test_a_renamed_checkpoint_opens_with_the_chosen_model(geosam_folder, capsys) -> None:
    named = geosam_folder("tiny-random-sam", name="named")
    renamed = geosam_folder("tiny-random-sam", checkpoint="/models/my_finetuned.pt", name="renamed")
    with pytest.raises(FeatureFolderError, match="--model ID"):
        open_source(renamed)
    assert "samscape models import my_finetuned.pt --as ID" in one_line_error(capsys, "info", str(renamed))
    np.testing.assert_array_equal(mask_at(renamed, "tiny-random-sam", 300.5, 250.5),
                                  mask_at(named, None, 300.5, 250.5))
    info = CliRunner().invoke(cli, ["info", str(renamed), "--model", "tiny-random-sam", "--validate",
                                    "--json"])
    assert info.exit_code == 0, info.output
    summary = json.loads(info.output)
    assert summary["model"]["id"] == "tiny-random-sam" and summary["problems"] == {}


def test_the_chosen_model_must_fit_the_folder(geosam_folder, tmp_path: Path, capsys) -> None:
    folder = geosam_folder("tiny-random-sam2", checkpoint="/models/my_sam2.pt")
    with pytest.raises(SettingsError, match="holds sam2 features and model 'tiny-random-sam' is a sam model"):
        open_source(folder, "tiny-random-sam")
    err = one_line_error(capsys, "segment", str(folder), "--model", "tiny-random-sam", "--point", "0,0",
                         "--out", str(tmp_path / "out.gpkg"))
    assert "--model" in err and "sam2" in err
    assert "unknown model id 'nope'" in one_line_error(capsys, "info", str(folder), "--model", "nope")


def test_a_samscape_folder_keeps_its_recorded_model(demo_root_768: Path, capsys) -> None:
    folder = demo_root_768 / "features"
    assert "pass --model demo" in one_line_error(capsys, "info", str(folder), "--model", "tiny-random-sam")
    result = CliRunner().invoke(cli, ["info", str(folder), "--model", "demo", "--json"])
    assert result.exit_code == 0, result.output


def test_the_server_opens_a_renamed_checkpoint_with_the_chosen_model(geosam_folder) -> None:
    from fastapi.testclient import TestClient

    from samscape.serve.api import create_app
    from samscape.serve.roots import Roots

    folder = geosam_folder("tiny-random-sam", checkpoint="/models/my_finetuned.pt")
    with TestClient(create_app(Roots.of(folder.parent.parent)), base_url="http://127.0.0.1") as client:
        refused = client.post("/api/sources", json={"path": str(folder)})
        assert refused.status_code == 400 and "samscape models import my_finetuned.pt" in refused.text
        assert "open the folder with Model ID" in refused.json()["detail"]  # the field, not the flag
        opened = client.post("/api/sources", json={"path": str(folder), "model": "tiny-random-sam"})
        assert opened.status_code == 201, opened.text
        assert opened.json()["model"] == "tiny-random-sam"
