"""`errors.reason`: the "why" of a one-line message, from any exception."""

from __future__ import annotations

from samscape.errors import reason


def test_reason_is_the_first_line_without_gdals_driver_hint() -> None:
    gdal = OSError("'x.gpkg' not recognized as being in a supported file format.; It might help to "
                   "specify the correct driver explicitly by prefixing the file path with '<DRIVER>:', "
                   "e.g. 'CSV:path'.")
    assert reason(gdal) == "'x.gpkg' not recognized as being in a supported file format."
    assert reason(ValueError("first\nsecond")) == "first"
    assert reason(KeyError()) == "KeyError"
    assert reason(ValueError("x" * 500), limit=10) == "x" * 10
