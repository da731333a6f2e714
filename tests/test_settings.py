"""The settings file (written by the Copilot, read by `samscape encode --settings`) and the
Copilot's rules, without a raster or a model run."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from affine import Affine
from rasterio.crs import CRS

from samscape.errors import SettingsError
from samscape.geo import PixelGrid
from samscape.settings import (
    FILE_KEYS,
    EncodeSettings,
    copilot_settings,
    extent_text,
    load_settings,
    read_settings_file,
    scaled_resolution,
    settings_dict,
    stride_for_overlap,
    write_settings_file,
)

# A value other than the default for every EncodeSettings field.
CHANGED = {
    "model": "tiny-random-sam", "bands": (3, 2, 1), "value_range": (5.0, 250.0),
    "percentiles": (1.0, 99.0), "crs": "EPSG:32633", "resolution": 1.5,
    "extent": "500000,3999750,500300,4000000@EPSG:32633", "stride": 100, "batch_size": 2,
    "device": "cpu", "dtype": "float32", "mixed_precision": False, "compile": True, "cluster": "local:2",
}


def test_every_setting_has_a_file_key() -> None:
    assert sorted(name for name, _ in FILE_KEYS.values()) == sorted(EncodeSettings.keys())
    assert set(CHANGED) == {f.name for f in fields(EncodeSettings)}


@pytest.mark.parametrize("name", sorted(CHANGED))
def test_each_setting_round_trips_through_the_file(tmp_path, name) -> None:
    settings = EncodeSettings(**{name: CHANGED[name]})
    assert settings != EncodeSettings()
    path = write_settings_file(settings, tmp_path / "settings.json")
    assert load_settings(path) == settings
    assert load_settings(None, settings_dict(settings)) == settings  # the same keys as the flags


def test_all_settings_round_trip_and_an_extent_as_numbers(tmp_path) -> None:
    everything = EncodeSettings(**CHANGED)
    assert load_settings(write_settings_file(everything, tmp_path / "a.json")) == everything
    boxed = EncodeSettings(extent=(1, 2, 3, 4))
    assert json.loads(write_settings_file(boxed, tmp_path / "b.json").read_text())["extent"] == [1, 2, 3, 4]
    assert load_settings(tmp_path / "b.json") == boxed


def test_the_file_leaves_out_what_is_unset_and_the_machine_defaults() -> None:
    assert settings_dict(EncodeSettings(model="demo", stride=128)) == {
        "model": "demo", "percentiles": [2.0, 98.0], "stride": 128, "dtype": "float16"}
    assert settings_dict(EncodeSettings(batch_size=8, compile=True))["batch-size"] == 8


def test_the_batch_size_is_auto_by_default_and_auto_in_every_spelling(tmp_path) -> None:
    assert EncodeSettings().batch_size == "auto" and EncodeSettings().compile is False
    assert load_settings(None, {"batch-size": "auto"}).batch_size == "auto"
    assert load_settings(None, {"batch-size": " AUTO "}).batch_size == "auto"
    assert load_settings(None, {"batch-size": "6"}).batch_size == 6
    (tmp_path / "s.json").write_text('{"batch_size": "auto", "compile": true}')
    assert load_settings(tmp_path / "s.json") == EncodeSettings(compile=True)


@pytest.mark.parametrize("value", ["0", "-2", "2.5", "car", "", "4,4", 0, 2.5, True, None])
def test_a_bad_batch_size_flag_or_file_value_is_one_line(value) -> None:
    if value is None:  # null in a file: unset, the default
        assert load_settings(None, {"batch-size": value}).batch_size == "auto"
        return
    with pytest.raises(SettingsError) as refused:
        load_settings(None, {"batch-size": value})
    message = str(refused.value)
    assert message.startswith("batch size") and message.endswith("give a whole number of at least 1 or auto")
    assert "\n" not in message


@pytest.mark.parametrize("value", ["4", "Auto", 0, 2.5, True, None, (4,)])
def test_a_bad_batch_size_in_python_is_one_line(value) -> None:
    with pytest.raises(SettingsError) as refused:
        EncodeSettings(batch_size=value)
    assert str(refused.value) == (f"batch_size {value!r} is not valid: give a whole number of at least 1 "
                                  "or 'auto'")


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_compile_must_be_a_flag(value) -> None:
    with pytest.raises(SettingsError, match="compile .* is not valid: give True or False"):
        EncodeSettings(compile=value)


def test_flags_win_over_the_file(tmp_path) -> None:
    path = write_settings_file(EncodeSettings(stride=200, batch_size=2), tmp_path / "s.json")
    loaded = load_settings(path, {"stride": "256", "batch_size": None})
    assert (loaded.stride, loaded.batch_size) == (256, 2)


@pytest.mark.parametrize(("text", "needle"), [
    (None, "cannot read settings file"),
    ("{nope", "is not valid JSON"),
    ("[1, 2]", "must hold a JSON object of flag names"),
    ('{"colour": 1}', "unknown key(s) colour; known keys: model, bands, range"),
    ('{"stride": "wide"}', "stride 'wide' is not valid: give 1 comma-separated numbers"),
    ('{"bands": [1, 2, 3, 4]}', "bands [1, 2, 3, 4] is not valid: give 1 to 3 comma-separated"),
    ('{"mixed-precision": "yes"}', "mixed-precision 'yes' is not valid: give true or false"),
    ('{"dtype": "int8"}', "dtype 'int8' is not valid"),
], ids=["missing", "bad-json", "not-an-object", "unknown-key", "stride-type", "bands-count",
        "boolean-type", "dtype-choice"])
def test_a_bad_file_is_one_line(tmp_path, text, needle) -> None:
    path = tmp_path / "settings.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SettingsError) as refused:
        load_settings(path)
    assert needle in str(refused.value) and "\n" not in str(refused.value)


def test_keys_may_be_spelled_with_underscores_and_nulls_are_unset(tmp_path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"batch_size": 3, "crs": null}')
    assert read_settings_file(path) == {"batch-size": 3}


def test_the_copilot_rules() -> None:
    assert stride_for_overlap(256, 50) == 128 and stride_for_overlap(256, 0) == 256
    assert stride_for_overlap(1024, 25) == 768 and stride_for_overlap(4, 90) == 1
    grid = PixelGrid(600, 500, Affine(0.5, 0, 500000, 0, -0.5, 4000000), CRS.from_epsg(32633))
    assert scaled_resolution(grid, 1) == (None, None)
    assert scaled_resolution(grid, 2) == (1.0, "EPSG:32633")
    assert extent_text((500000, 3999750.25, 500300, 4000000), grid.crs) == \
        "500000,3999750.25,500300,4000000@EPSG:32633"
    settings = copilot_settings(grid, "demo", overlap=25, resolution_scale=2,
                                extent=(500000, 3999800, 500200, 4000000), bands=(1,))
    assert (settings.stride, settings.resolution, settings.crs, settings.bands) == \
        (192, 1.0, "EPSG:32633", (1,))
    assert settings.extent == "500000,3999800,500200,4000000@EPSG:32633"
    assert copilot_settings(grid, "demo") == EncodeSettings(model="demo", stride=128)
