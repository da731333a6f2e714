"""The Python API has no flag parser in front: wrong types and values are one-line SettingsErrors
naming the argument, never a TypeError from deep inside."""

from __future__ import annotations

import pytest

import samscape
from samscape.errors import SettingsError
from samscape.vector import VectorOptions


@pytest.mark.parametrize(("call", "needle"), [
    (lambda raster, out: samscape.open_source(123), "source 123 is not valid"),
    (lambda raster, out: VectorOptions(tolerance="a"), "tolerance must be a number"),
    (lambda raster, out: samscape.encode(raster, out, settings=3), "settings 3 is not valid"),
    (lambda raster, out: samscape.encode(raster, out, settings={"model": "tiny-random-sam",
                                                                "value_range": (5, 5)}),
     "value range 5.0,5.0 is unusable"),
    (lambda raster, out: samscape.encode(raster, out, settings={"rnage": (0, 9)}), "unknown setting"),
    (lambda raster, out: samscape.encode(raster, out, model="tiny-random-sam", crs="EPSG:bogus"),
     "unknown CRS 'EPSG:bogus' (not a CRS PROJ knows)"),
    (lambda raster, out: samscape.encode(raster, out, model="tiny-random-sam", overwrite=1),
     "overwrite 1 is not valid: give True or False"),
    (lambda raster, out: samscape.encode(raster, out, model="demo", format="geosam", keep_encoding="no"),
     "keep_encoding 'no' is not valid"),
    (lambda raster, out: samscape.encode(raster, out, model="tiny-random-sam", progress="yes"),
     "give True, False or a function of (done, total)"),
    (lambda raster, out: samscape.encode(raster, out, model="tiny-random-sam", progress=lambda done: None),
     "give True, False or a function of (done, total)"),
    (lambda raster, out: samscape.encode(raster, out, model="demo", format="geosam", base_path=5),
     "base_path 5 is not valid: give a path"),
], ids=["source-type", "tolerance-type", "settings-type", "empty-range", "unknown-key", "crs",
        "overwrite", "keep-encoding", "progress-text", "progress-one-argument", "base-path"])
def test_wrong_arguments_are_one_line_settings_errors(make_raster, tmp_path, call, needle) -> None:
    with pytest.raises(SettingsError) as refused:
        call(str(make_raster()), tmp_path / "ff")
    assert needle in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "ff").exists()


def test_settings_as_a_dict_and_a_bare_epsg_code(make_raster, tmp_path) -> None:
    result = samscape.encode(str(make_raster()), tmp_path / "ff", settings={"model": "tiny-random-sam"},
                             crs=32633, progress=False)
    folder = samscape.FeatureFolder.open(tmp_path / "ff")
    assert result.encoded == len(folder) > 0 and folder.crs.to_epsg() == 32633


def test_paths_may_be_pathlib_paths(make_raster, tmp_path) -> None:
    from pathlib import Path

    out = samscape.encode(str(make_raster()), tmp_path / "gs", model="demo", format="geosam",
                          base_path=Path("/data/gs"), checkpoint=Path("demo.pt"), progress=False)
    from samscape.features import open_folder

    assert open_folder(tmp_path / "gs").problems() == {} and out.encoded > 0
