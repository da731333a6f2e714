"""Band selection and the value range that maps raster values to 0–255."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BandError, EmptyRasterError, SettingsError


def expand_bands(bands: tuple[int, ...] | list[int], count: int) -> tuple[int, int, int]:
    """1-based band indexes as the three the model sees: (b,) → (b, b, b); (b1, b2) → (b1, b2, b2)."""
    bands = tuple(int(b) for b in bands)
    if not 1 <= len(bands) <= 3:
        raise BandError(f"choose 1 to 3 bands, got {len(bands)} ({bands})")
    bad = [b for b in bands if not 1 <= b <= count]
    if bad:
        raise BandError(
            f"band {bad[0]} is out of range: the raster has {count} band(s), numbered 1 to {count}"
        )
    if len(bands) == 1:
        return bands * 3
    if len(bands) == 2:
        return (bands[0], bands[1], bands[1])
    return bands  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ValueRange:
    """Raster values `low`..`high` map linearly to 0..255; values outside are clipped."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low >= self.high:
            raise SettingsError(
                f"value range {self.low},{self.high} is unusable: give --range MIN,MAX with MIN < MAX"
            )

    def to_uint8(self, data: np.ma.MaskedArray) -> np.ndarray:
        """(C, H, W) masked raster values → (H, W, C) uint8; pixels masked, NaN or infinite in any
        band become 0."""
        raw = np.ma.getdata(data)
        values = raw.astype(np.float64)
        invalid = np.ma.getmaskarray(data).any(axis=0)
        if raw.dtype.kind == "f":  # only floats hold NaN or infinity
            finite = np.isfinite(values)
            values[~finite] = self.low
            invalid |= ~finite.all(axis=0)
        scaled = np.clip((values - self.low) * (255.0 / (self.high - self.low)), 0, 255)
        out = np.rint(scaled).astype(np.uint8)
        out[:, invalid] = 0
        return np.ascontiguousarray(out.transpose(1, 2, 0))


def percentile_range(data: np.ma.MaskedArray, percentiles: tuple[float, float]) -> ValueRange:
    """The value range between two percentiles of the valid values of all bands together."""
    lo_p, hi_p = percentiles
    if not 0 <= lo_p < hi_p <= 100:
        raise SettingsError(f"percentiles {lo_p},{hi_p} must satisfy 0 <= LOW < HIGH <= 100")
    valid = data.compressed()
    valid = valid[np.isfinite(valid)]
    if valid.size == 0:
        raise EmptyRasterError(
            "every pixel in the processing extent is nodata; choose another extent or bands"
        )
    low, high = (float(v) for v in np.percentile(valid, [lo_p, hi_p]))
    if high <= low:  # a flat image: keep the value visible in mid-grey
        low, high = low - 1.0, high + 1.0
    return ValueRange(low, high)
