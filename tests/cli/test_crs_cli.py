"""CRS flags through real `samscape` processes: an unknown CRS is exactly one error line on stderr
(GDAL/PROJ's own "ERROR 1: ..." line is kept off), and a bare EPSG code works everywhere.

The processes start all at once (each pays for importing torch) and are checked one per test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform as warp_points

import samscape

TINY = "tiny-random-sam"
TRANSFORM = Affine(0.5, 0, 500000.0, 0, -0.5, 4000000.0)  # EPSG:32633, 256 x 256 px
EXTENT = "500000,3999900,500100,4000000"
LON, LAT = (v[0] for v in warp_points("EPSG:32633", "EPSG:4326", [500060.25], [3999940.25]))

BAD = {
    "extent-bogus": ["encode", "{raster}", "{tmp}/a", "--model", TINY, "--extent", f"{EXTENT}@EPSG:bogus"],
    "encode-crs": ["encode", "{raster}", "{tmp}/c", "--model", TINY, "--crs", "bogus"],
    "encode-crs-code": ["encode", "{raster}", "{tmp}/d", "--model", TINY, "--crs", "EPSG:99999"],
    "encode-settings": ["encode", "{raster}", "{tmp}/e", "--settings", "{tmp}/bad-settings.json"],
    "segment-crs": ["segment", "{folder}", "--out", "{tmp}/s.geojson", "--point", "1,2", "--crs", "bogus"],
    "segment-proj": ["segment", "{folder}", "--out", "{tmp}/t.geojson", "--point", "1,2", "--crs", "+proj=x"],
    "segment-out-crs": ["segment", "{folder}", "--out", "{tmp}/u.geojson", "--point", "500060,3999940",
                        "--out-crs", "EPSG:bogus"],
}
GOOD = {
    "segment-4326": ["segment", "{folder}", "--out", "{tmp}/g1.geojson", "--point", f"{LON},{LAT}",
                     "--crs", "4326", "--json", "-q"],
    "encode-settings-int": ["encode", "{raster}", "{tmp}/g3", "--settings", "{tmp}/int-settings.json",
                            "--json", "-q"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("crs-cli")
    raster = tmp / "scene.tif"
    data = (np.random.default_rng(3).random((3, 256, 256)) * 200 + 20).astype("uint8")
    with rasterio.open(raster, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=TRANSFORM) as ds:
        ds.write(data)
    env = {**os.environ, "SAMSCAPE_HOME": str(tmp / "home")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SAMSCAPE_HOME", env["SAMSCAPE_HOME"])
        samscape.encode(str(raster), tmp / "features", model=TINY, progress=False)
    (tmp / "bad-settings.json").write_text(json.dumps({"model": TINY, "crs": "EPSG:bogus"}))
    (tmp / "int-settings.json").write_text(json.dumps({"model": TINY, "crs": 32633,
                                                        "extent": f"{EXTENT}@32633"}))
    values = {"raster": str(raster), "folder": str(tmp / "features"), "tmp": str(tmp)}
    processes = {
        name: subprocess.Popen([sys.executable, "-m", "samscape.cli.main",
                                *(a.format(**values) for a in args)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for name, args in {**BAD, **GOOD}.items()
    }
    results = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BAD))
def test_an_unknown_crs_is_exactly_one_error_line(runs: dict, name: str) -> None:
    result = runs[name]
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("samscape: error: unknown CRS "), result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", list(GOOD))
def test_a_bare_epsg_code_is_a_crs(runs: dict, name: str) -> None:
    result = runs[name]
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    if name == "segment-4326":
        assert answer["crs"]["properties"]["name"] == "EPSG:32633" and answer["features"]
    else:
        assert answer["encoded"] == answer["grid_chip_count"] == 1
