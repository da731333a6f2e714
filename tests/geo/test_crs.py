"""CRS spellings: EPSG codes as bare integers, and one clear error for anything unknown."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.crs import CRS

from samscape.errors import SettingsError
from samscape.geo import norm_crs, parse_extent

UNKNOWN = ["EPSG:bogus", "foo", "+proj=foo", "EPSG:99999", 'GEOGCS["x"', "urn:ogc:def:crs:EPSG::bogus",
           "", "  ", "-4326", "4326.5", True, 3.5, [4326]]


@pytest.mark.parametrize("value", [4326, "4326", " 4326 ", np.int64(4326), "EPSG:4326", "epsg:4326",
                                   CRS.from_epsg(4326)])
def test_a_bare_integer_is_an_epsg_code(value: object) -> None:
    assert norm_crs(value) == CRS.from_epsg(4326)


@pytest.mark.parametrize("value", UNKNOWN)
def test_an_unknown_crs_is_one_line_settings_error(value: object,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SettingsError, match="unknown CRS") as info:
        norm_crs(value)
    message = str(info.value)
    assert "\n" not in message and "EPSG:XXXX" in message
    assert capfd.readouterr().err == ""  # no "ERROR 1: ..." from GDAL or PROJ


def test_an_extent_in_an_unknown_crs_is_one_line_settings_error(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SettingsError, match="unknown CRS 'EPSG:bogus'"):
        parse_extent("500000,3999900,500100,4000000@EPSG:bogus")
    assert capfd.readouterr().err == ""
    assert parse_extent("10,50,11,51@4326").crs == CRS.from_epsg(4326)


@pytest.mark.parametrize(("value", "kind"), [(4978, "geocentric"), ("EPSG:5703", "vertical")])
def test_a_crs_no_map_is_drawn_in_is_refused(value: object, kind: str) -> None:
    with pytest.raises(SettingsError, match=f"is {kind}, not a map CRS; give one such as EPSG:4326"):
        norm_crs(value)


@pytest.mark.parametrize("value", ["EPSG:32633+5773", 4979, 'LOCAL_CS["site grid",UNIT["metre",1]]'])
def test_compound_3d_and_local_crs_are_taken(value: object) -> None:
    assert norm_crs(value) == CRS.from_user_input(value)
