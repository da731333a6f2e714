"""The `samscape` command through click's runner: JSON output parsed, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from samscape.cli.main import cli

TINY = "tiny-random-sam"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_encode_then_info_json(make_raster, tmp_path):
    raster = make_raster()
    code, out, _ = run("encode", raster, tmp_path / "ff", "--model", TINY, "--json", "--quiet")
    assert code == 0
    encoded = json.loads(out)
    assert encoded["encoded"] == 12 and encoded["grid_chip_count"] == 12
    code, out, _ = run("info", tmp_path / "ff", "--json", "--validate")
    info = json.loads(out)
    assert code == 0 and info["problems"] == {}
    for key in ("chip_count", "crs", "extent", "model", "dtype", "format_version", "size_bytes"):
        assert key in info
    assert info["chip_count"] == 12 and info["crs"] == "EPSG:32633" and info["dtype"] == "float16"
    assert info["extent"] == [500000.0, 3999750.0, 500300.0, 4000000.0]
    assert info["model"]["id"] == TINY and info["format_version"] == 1
    code, out, _ = run("info", tmp_path / "ff")
    assert code == 0 and "12 of 12" in out
    code, out, _ = run("encode", raster, tmp_path / "ff", "--model", TINY, "--quiet")
    assert code == 0 and out == f"{tmp_path / 'ff'}: nothing to encode, 12 of 12 chips already done\n"


def test_settings_file_and_flags_win(make_raster, tmp_path):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"model": TINY, "bands": [2], "range": [10, 200],
                                    "batch_size": 2, "stride": 200}))
    code, _, err = run("encode", make_raster(), tmp_path / "ff", "--settings", settings,
                       "--stride", "256", "--quiet")
    assert code == 0, err
    info = json.loads(run("info", tmp_path / "ff", "--json")[1])
    assert info["preprocessing"]["bands"] == [2, 2, 2]
    assert info["preprocessing"]["value_range"] == [10.0, 200.0]
    assert info["preprocessing"]["stride"] == 256


def test_validate_names_missing_chip(make_raster, tmp_path):
    run("encode", make_raster(), tmp_path / "ff", "--model", TINY, "--quiet")
    (tmp_path / "ff" / "features" / "chip_000004.pt").unlink()
    code, _, err = run("info", tmp_path / "ff", "--validate")
    assert code == 1 and "chip 4" in err and "missing" in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["encode", "{missing}", "{out}", "--model", TINY], "cannot open raster"),
        (["encode", "{raster}", "{out}", "--model", "nope"], "known ids: sam-vit-base"),
        (["encode", "{raster}", "{out}", "--model", TINY, "--bands", "1,9"], "band 9 is out of range"),
        (["encode", "{raster}", "{out}", "--model", TINY, "--extent", "0,0,1,1"], "does not intersect"),
        (["encode", "{raster}", "{out}", "--model", TINY, "--range", "9,1"], "--range MIN,MAX"),
        (["encode", "{raster}", "{out}", "--model", "sam-vit-base"], "samscape models import"),
        (["encode", "{nocrs}", "{out}", "--model", TINY], "has no CRS; name it when encoding (--crs"),
        (["encode", "{raster}", "{out}", "--settings", "{badsettings}"], "unknown key(s) colour"),
        (["info", "{raster_dir}"], "is not a feature folder"),
        (["info", "{raster}"], "is not a feature folder (no manifest.parquet)"),
        (["info", "{missing}"], "no such folder"),
        (["segment", "{raster}", "--model", TINY, "--point", "1,1", "--out", "{out}.gpkg:"],
         "names no layer after ':'"),
        (["encode", "{raster}", "{long}", "--model", TINY], "File name too long"),
        (["encode", "{raster}", "{out}", "--model", TINY, "--range", "0,255", "--percentiles", "2,98"],
         "both give the value range; pass one of them"),
        (["segment", "{raster}", "--model", TINY, "--point", "500100,3999900", "--out", "{long}.gpkg"],
         "give a shorter name"),
        (["sample-raster", "{raster}/x.tif"], "cannot write"),
        (["models", "download", "sam-vit-base"], "could not be downloaded"),
        (["models", "remove", "tiny-random-sam"], "built in"),
    ],
)
@pytest.mark.slow
def test_user_errors_are_one_line_and_leave_nothing(make_raster, tmp_path, args, needle):
    raster = make_raster()
    paths = {
        "missing": tmp_path / "missing.tif", "raster": raster, "out": tmp_path / "out",
        "nocrs": make_raster("nocrs.tif", crs=None), "raster_dir": tmp_path,
        "badsettings": tmp_path / "bad.json", "long": tmp_path / ("x" * 300),
    }
    (tmp_path / "bad.json").write_text('{"colour": "red"}')
    argv = [a.format(**paths) for a in args]
    proc = subprocess.run([sys.executable, "-m", "samscape.cli.main", *argv], capture_output=True,
                          text=True, env={**__import__("os").environ})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("samscape: error: "), proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_crs_flag_assigns_a_crs_to_a_raster_without_one(make_raster, tmp_path):
    code, _, err = run("encode", make_raster(crs=None), tmp_path / "ff", "--model", TINY,
                       "--crs", "EPSG:32633", "--quiet")
    assert code == 0, err
    assert json.loads(run("info", tmp_path / "ff", "--json")[1])["crs"] == "EPSG:32633"


def test_models_list_json_labels_test_models():
    code, out, _ = run("models", "list", "--json")
    rows = {row["id"]: row for row in json.loads(out)}
    assert code == 0 and len(rows) == 12
    assert rows["tiny-random-sam"]["test_only"] and rows["tiny-random-sam"]["status"] == "built-in"
    assert not rows["demo"]["test_only"] and rows["demo"]["status"] == "built-in"
    assert rows["sam-vit-base"]["status"] == "not downloaded"
    assert rows["sam2.1-hiera-tiny"]["revision"] == "de431c4043854a71d8101e17995dfe596bf101a5"


def _one_line_error(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "samscape.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("samscape: error: "), proc.stderr
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("inside", [True, False])
def test_encode_into_a_read_only_folder_is_one_line(make_raster, read_only_dir, inside):
    out = read_only_dir / "ff" if inside else read_only_dir
    line = _one_line_error("encode", make_raster(), out, "--model", TINY, "-q")
    assert "cannot write" in line and str(out) in line and "Read-only file system" in line


@pytest.mark.parametrize("stride", ["0", "-5"])
def test_zero_or_negative_stride_is_refused(make_raster, tmp_path, stride):
    code, _, err = run("encode", make_raster(), tmp_path / "ff", "--model", TINY, f"--stride={stride}")
    assert code != 0 and "stride" in err
    assert not (tmp_path / "ff").exists()


@pytest.mark.slow
def test_a_rotated_raster_is_refused_and_says_to_warp_it(make_raster, tmp_path):
    from affine import Affine

    raster = make_raster(transform=Affine.translation(500000, 4000000) * Affine.rotation(20)
                         * Affine.scale(0.5, -0.5))
    line = _one_line_error("encode", raster, tmp_path / "ff", "--model", TINY)
    assert "rotated" in line and "gdalwarp" in line
    assert not (tmp_path / "ff").exists()


@pytest.mark.slow
def test_sample_raster_into_a_missing_folder_is_one_line(tmp_path):
    line = _one_line_error("sample-raster", tmp_path / "no" / "scene.tif")
    assert "cannot write" in line and "choose a folder that exists" in line
    assert not (tmp_path / "no").exists()


@pytest.mark.slow
def test_a_raster_without_georeferencing_is_one_line_without_warnings(tmp_path):
    raster = tmp_path / "plain.tif"
    with rasterio.open(raster, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8") as ds:
        ds.write(np.full((1, 64, 64), 7, "uint8"))  # no transform, no CRS: rasterio warns on reading it
    line = _one_line_error("encode", raster, tmp_path / "ff", "--model", TINY, "-q")
    assert "has no georeferencing" in line and not (tmp_path / "ff").exists()
