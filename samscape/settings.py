"""Encode settings: what decides an encoding, checked on construction (the Python API has no flag
parser in front, so every value's type and range is checked here, one line per problem)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from . import validate
from .errors import SettingsError
from .models import DEFAULT_MODEL


@dataclass(frozen=True)
class EncodeSettings:
    """Everything that decides an encoding; the keys match `samscape encode`'s flags.

    bands: 1-based, 1 to 3 of them (None: the first three, or fewer if the raster has fewer);
    value_range: raster values mapped to 0..255 (None: the `percentiles` of the raster);
    crs / resolution: target grid (None: the raster's); extent: 'XMIN,YMIN,XMAX,YMAX[@CRS]';
    stride: pixels between chips (None: half a chip).
    """

    model: str = DEFAULT_MODEL
    bands: tuple[int, ...] | None = None
    value_range: tuple[float, float] | None = None
    percentiles: tuple[float, float] = (2.0, 98.0)
    crs: str | None = None
    resolution: float | None = None
    extent: str | tuple[float, float, float, float] | None = None
    stride: int | None = None
    batch_size: int = 4
    device: str = "auto"
    dtype: str = "float16"
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        """Check every value's type and range (the Python API has no flag parser in front)."""
        for name, value in _checked(self).items():
            object.__setattr__(self, name, value)

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _checked(s: EncodeSettings) -> dict[str, object]:
    values: dict[str, object] = {
        "model": validate.text("model", s.model),
        "batch_size": validate.integer("batch_size", s.batch_size, 1),
        "device": validate.text("device", s.device),
        "dtype": validate.text("dtype", s.dtype, ("float16", "float32")),
        "mixed_precision": validate.flag("mixed_precision", s.mixed_precision),
        "percentiles": validate.numbers("percentiles", s.percentiles, 2, "(2, 98)"),
    }
    low, high = values["percentiles"]
    if not 0 <= low < high <= 100:
        raise SettingsError(f"percentiles {low},{high} must satisfy 0 <= LOW < HIGH <= 100")
    if s.bands is not None:
        values["bands"] = validate.bands("bands", s.bands)
    if s.value_range is not None:
        values["value_range"] = validate.numbers("value_range", s.value_range, 2, "(0, 255)")
    if s.crs is not None:
        values["crs"] = str(s.crs) if isinstance(s.crs, int) and not isinstance(s.crs, bool) \
            else validate.text("crs", s.crs)
    if s.resolution is not None:
        values["resolution"] = validate.number("resolution", s.resolution, positive=True)
    if s.extent is not None and not isinstance(s.extent, str):
        values["extent"] = validate.numbers("extent", s.extent, 4, "(xmin, ymin, xmax, ymax)")
    if s.stride is not None:
        values["stride"] = validate.integer("stride", s.stride, 1)
    return values


def settings_with(settings: EncodeSettings | Mapping | None, **kwargs) -> EncodeSettings:
    """`settings` (an EncodeSettings or a dict of its keys; default: the defaults) with `kwargs`
    replaced; SettingsError for an unknown key."""
    if isinstance(settings, Mapping):
        settings, kwargs = None, {**settings, **kwargs}
    elif settings is not None and not isinstance(settings, EncodeSettings):
        raise SettingsError(f"settings {settings!r} is not valid: give an EncodeSettings, a dict of "
                            "its keys, or the settings as keywords")
    unknown = sorted(set(kwargs) - set(EncodeSettings.keys()))
    if unknown:
        hint = " (the value range is value_range)" if "range" in unknown else ""
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}{hint}; "
                            f"known: {', '.join(EncodeSettings.keys())}")
    return replace(settings or EncodeSettings(), **kwargs)
