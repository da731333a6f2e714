"""Coordinates shown to users are plain decimals (500010.25, 4000000), never 4e+06."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import samscape
from samscape.errors import PromptError
from samscape.geo.crs import plain_number
from samscape.segment import PromptSet, Segmenter
from samscape.sources import open_source

SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(("value", "text"), [
    (4000000.0, "4000000"), (3999872.0, "3999872"), (500010.25, "500010.25"), (-0.0, "0"),
    (15.123456789, "15.1234568"), (0.5, "0.5"), (1e-9, "0"), (-73.98, "-73.98"),
    (np.float64(3999900.0), "3999900"), (123456789.123, "123456789.1"), (2, "2"),
])
def test_plain_number(value: float, text: str) -> None:
    assert plain_number(value) == text


def test_info_prints_the_extent_in_plain_decimals(make_raster, tmp_path) -> None:
    raster = make_raster(width=256, height=256)
    samscape.encode(str(raster), tmp_path / "f", model="tiny-random-sam", progress=False)
    out = subprocess.run([sys.executable, "-m", "samscape.cli.main", "info", str(tmp_path / "f")],
                         capture_output=True, text=True, timeout=120).stdout
    (line,) = [line for line in out.splitlines() if line.startswith("extent:")]
    assert line.split(":", 1)[1].strip() == "500000, 3999872, 500128, 4000000"


def test_a_prompt_on_nodata_names_it_in_plain_decimals(make_raster, tmp_path) -> None:
    data = np.full((3, 500, 600), 120, dtype="uint8")
    data[:, :, 300:] = 0  # nodata right half: the chips there are all nodata
    raster = make_raster(data=data, nodata=0)
    samscape.encode(str(raster), tmp_path / "f", model="tiny-random-sam", progress=False)
    with open_source(tmp_path / "f") as source:
        prompts = PromptSet(source.crs).add_point(*(source.grid.transform @ (590.5, 200.5)))
        with pytest.raises(PromptError, match="no encoded chip covers") as info:
            Segmenter(source).segment(prompts)
    message = str(info.value)
    assert not SCIENTIFIC.search(message), message
    assert "the prompt at 500295.25, 3999899.75 (EPSG:32633)" in message
