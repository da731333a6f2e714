"""Encode settings, the one owner of them: the `EncodeSettings` value (checked on construction,
one line per problem), the settings file (`samscape encode --settings`, the Copilot's download:
a JSON object whose keys are `encode`'s flag names) read and written, and the Copilot's rules
that turn its choices (overlap %, resolution scale, extent) into settings."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from rasterio.crs import CRS

from . import validate
from .errors import SettingsError
from .geo import PixelGrid, crs_label, norm_crs
from .models import DEFAULT_MODEL, get_spec


@dataclass(frozen=True)
class EncodeSettings:
    """Everything that decides an encoding; the keys match `samscape encode`'s flags.

    bands: 1-based, 1 to 3 of them (None: the first three, or fewer if the raster has fewer);
    value_range: raster values mapped to 0..255 (None: the `percentiles` of the raster);
    crs / resolution: target grid (None: the raster's); extent: 'XMIN,YMIN,XMAX,YMAX[@CRS]';
    stride: pixels between chips (None: half a chip); batch_size: chips encoded together, or
    "auto" (the largest that fits and helps on the device, `models.tuning`); compile: compile the
    image encoder (torch.compile) for long runs, off by default (its first batch takes a while).
    batch_size, device, mixed_precision and compile say how a machine runs an encoding, not what
    it makes: the folder records none of them, so changing them never makes another encoding.
    cluster: where the chips are encoded (None: in this process; 'local', 'local:N' or a Dask
    scheduler address: on a Dask cluster, `samscape.cluster`); like the device, not recorded.
    """

    model: str = DEFAULT_MODEL
    bands: tuple[int, ...] | None = None
    value_range: tuple[float, float] | None = None
    percentiles: tuple[float, float] = (2.0, 98.0)
    crs: str | None = None
    resolution: float | None = None
    extent: str | tuple[float, float, float, float] | None = None
    stride: int | None = None
    batch_size: int | Literal["auto"] = "auto"
    device: str = "auto"
    dtype: Literal["float16", "float32"] = "float16"
    mixed_precision: bool = True
    compile: bool = False
    cluster: str | None = None

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
        "batch_size": _batch_size(s.batch_size),
        "device": validate.text("device", s.device),
        "dtype": validate.text("dtype", s.dtype, ("float16", "float32")),
        "mixed_precision": validate.flag("mixed_precision", s.mixed_precision),
        "compile": validate.flag("compile", s.compile),
    }
    values["percentiles"] = percentiles = validate.numbers("percentiles", s.percentiles, 2, "(2, 98)")
    low, high = percentiles
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
    if s.cluster is not None:
        values["cluster"] = parse_cluster(s.cluster).text
    return values


@dataclass(frozen=True, slots=True)
class ClusterTarget:
    """Where a cluster encoding runs: a `LocalCluster` of `workers` processes on this machine
    (None: one per GPU, else one per 4 cores) when `address` is None, else the Dask scheduler at
    `address`. `text` is the setting as given."""

    text: str
    address: str | None = None
    workers: int | None = None


_ADDRESS = re.compile(r"(?:(?:tcp|tls|ucx|ws|wss)://)?[A-Za-z0-9_.\-]+(?::\d{1,5})?|"
                      r"(?:(?:tcp|tls|ucx|ws|wss)://)?\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")


def parse_cluster(value: object) -> ClusterTarget:
    """'local', 'local:N' (N ≥ 1 worker processes) or a scheduler address ('tcp://host:8786',
    'host:8786'; schemes tcp, tls, ucx, ws, wss) as a `ClusterTarget`; a one-line SettingsError
    otherwise. Syntax only: nothing is contacted."""
    text = value.strip() if isinstance(value, str) else None
    fix = ("give local, local:N (N worker processes on this machine) or a Dask scheduler address "
           "such as tcp://host:8786")
    if not text:
        raise SettingsError(f"cluster {value!r} is not valid; {fix}")
    if text == "local":
        return ClusterTarget(text)
    if text.startswith("local:"):
        count = text[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise SettingsError(f"cluster {value!r} is not valid: N in local:N must be a whole number "
                                f"of workers, 1 or more; {fix}")
        return ClusterTarget(text, workers=int(count))
    if not _ADDRESS.fullmatch(text):
        raise SettingsError(f"cluster {value!r} is not valid; {fix}")
    return ClusterTarget(text, address=text)


def _batch_size(value: object) -> int | Literal["auto"]:
    if value == "auto" and isinstance(value, str):
        return "auto"
    try:
        return validate.integer("batch_size", value, 1)
    except SettingsError:
        raise SettingsError(f"batch_size {value!r} is not valid: give a whole number of at least 1 "
                            "or 'auto'") from None


def settings_with(settings: EncodeSettings | Mapping | None, **kwargs) -> EncodeSettings:
    """`settings` (an EncodeSettings or a dict of its keys; default: the defaults) with `kwargs`
    replaced; SettingsError for an unknown key."""
    if isinstance(settings, Mapping):
        kwargs = {**settings, **kwargs}
        settings = None
    elif settings is not None and not isinstance(settings, EncodeSettings):
        raise SettingsError(f"settings {settings!r} is not valid: give an EncodeSettings, a dict of "
                            "its keys, or the settings as keywords")
    unknown = sorted(set(kwargs) - set(EncodeSettings.keys()))
    if unknown:
        hint = " (the value range is value_range)" if "range" in unknown else ""
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}{hint}; "
                            f"known: {', '.join(EncodeSettings.keys())}")
    return replace(settings or EncodeSettings(), **kwargs)


# The settings file

def parse_numbers(value: str | Sequence | float | int, count: int | None, name: str,
                  kind: type = float) -> tuple:
    """'1,2,3' or [1, 2, 3] → a tuple of `kind`, checking there are `count` (None: 1 to 3)."""
    items = value.split(",") if isinstance(value, str) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    try:
        parsed = tuple(kind(str(v).strip()) if kind is int else kind(v) for v in items)
    except (TypeError, ValueError):
        parsed = ()
    ok = len(parsed) == count if count else 1 <= len(parsed) <= 3
    if not ok or not all(math.isfinite(v) for v in parsed):
        want = f"{count} comma-separated numbers" if count else "1 to 3 comma-separated integers"
        raise SettingsError(f"{name} {value!r} is not valid: give {want}")
    return parsed


def _batch_size_text(value: object) -> int | Literal["auto"]:
    """'auto' (any case) or a whole number of at least 1 (a flag's text or the file's number)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        number = parse_numbers(value, 1, "batch size", int)[0]  # type: ignore[arg-type]
    except SettingsError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise SettingsError(f"batch size {value!r} is not valid: give a whole number of at least 1 "
                            "or auto")
    return number


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{name} {value!r} is not valid: give true or false")
    return value


FILE_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    # file key (= `samscape encode` flag) → (EncodeSettings field, parser of the file's value)
    "model": ("model", str),
    "bands": ("bands", lambda v: parse_numbers(v, None, "bands", int)),
    "range": ("value_range", lambda v: parse_numbers(v, 2, "range")),
    "percentiles": ("percentiles", lambda v: parse_numbers(v, 2, "percentiles")),
    "crs": ("crs", str),
    "resolution": ("resolution", lambda v: parse_numbers(v, 1, "resolution")[0]),
    "extent": ("extent", lambda v: v if isinstance(v, str) else parse_numbers(v, 4, "extent")),
    "stride": ("stride", lambda v: parse_numbers(v, 1, "stride", int)[0]),
    "batch-size": ("batch_size", lambda v: _batch_size_text(v)),
    "device": ("device", str),
    "dtype": ("dtype", str),
    "mixed-precision": ("mixed_precision", lambda v: _boolean(v, "mixed-precision")),
    "compile": ("compile", lambda v: _boolean(v, "compile")),
    "cluster": ("cluster", str),
}
# How a machine runs an encoding, not what it makes: written only where they differ from the
# default, so a downloaded file runs with each machine's best.
_MACHINE_DEFAULTS = {"batch-size": "auto", "device": "auto", "mixed-precision": True, "compile": False,
                     "cluster": None}


def read_settings_file(path: str | os.PathLike) -> dict[str, Any]:
    """The settings file's JSON object, keys as flag names ('batch_size' read as 'batch-size'),
    null values left out; one-line SettingsError for a missing file, bad JSON or an unknown key."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SettingsError(f"cannot read settings file '{path}': {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"settings file '{path}' is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"settings file '{path}' must hold a JSON object of flag names")
    data = {k.replace("_", "-"): v for k, v in data.items() if v is not None}
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise SettingsError(
            f"settings file '{path}' has unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(FILE_KEYS)}"
        )
    return data


def settings_kwargs(path: str | os.PathLike | None, flags: Mapping[str, Any]) -> dict[str, Any]:
    """EncodeSettings keyword arguments from a settings file (None: none) and flags given by flag
    name ('batch-size' or 'batch_size'; None: not given); flags win. A value of the wrong type is
    a one-line SettingsError naming the key."""
    given = read_settings_file(path) if path else {}
    given.update({k.replace("_", "-"): v for k, v in flags.items() if v is not None})
    return {FILE_KEYS[key][0]: FILE_KEYS[key][1](value) for key, value in given.items()}


def load_settings(path: str | os.PathLike | None, flags: Mapping[str, Any] | None = None
                  ) -> EncodeSettings:
    """The EncodeSettings of a settings file and flags (flags win), checked."""
    return EncodeSettings(**settings_kwargs(path, flags or {}))


def settings_dict(settings: EncodeSettings) -> dict[str, object]:
    """`settings` as the settings file's JSON object (flag names as keys, lists for tuples);
    unset (None) values and the machine's defaults (device auto, mixed precision on) left out.
    `load_settings` reads it back to equal settings."""
    values: dict[str, object] = {}
    for key, (name, _) in FILE_KEYS.items():
        value = getattr(settings, name)
        if value is None or (key in _MACHINE_DEFAULTS and value == _MACHINE_DEFAULTS[key]):
            continue
        values[key] = list(value) if isinstance(value, tuple) else value
    return values


def write_settings_file(settings: EncodeSettings, path: str | os.PathLike) -> Path:
    """Write `settings_dict(settings)` to `path` as indented JSON; the path written."""
    path = Path(path)
    path.write_text(json.dumps(settings_dict(settings), indent=2) + "\n")
    return path


# The Copilot's rules

def stride_for_overlap(chip_size: int, overlap_percent: float) -> int:
    """Pixels between chip starts when neighbouring chips share `overlap_percent` % of a
    `chip_size` px chip: chip × (1 − overlap/100), rounded, at least 1."""
    return max(1, round(chip_size * (1 - overlap_percent / 100)))


def scaled_resolution(grid: PixelGrid, scale: float) -> tuple[float | None, str | None]:
    """(resolution, crs) that make pixels `scale` times the raster's, in the raster's own CRS;
    (None, None) at scale 1 (the raster's own grid)."""
    if scale == 1:
        return None, None
    return grid.res[0] * scale, crs_label(grid.crs)


def extent_text(bounds: Sequence[float], crs: CRS) -> str:
    """(xmin, ymin, xmax, ymax) in `crs` as the extent setting 'XMIN,YMIN,XMAX,YMAX@CRS'."""
    return ",".join(f"{v:.10g}" for v in bounds) + f"@{crs_label(crs)}"


def copilot_settings(grid: PixelGrid, model: str, *, overlap: float = 50.0,
                     resolution_scale: float = 1.0, extent: Sequence[float] | None = None,
                     extent_crs: str | int | None = None, **other: Any) -> EncodeSettings:
    """The Copilot's choices for a raster of `grid` as EncodeSettings: `overlap` (% of a chip of
    `model`'s input size) becomes the stride, `resolution_scale` a resolution in the raster's own
    CRS, `extent` (xmin, ymin, xmax, ymax in `extent_crs`, by default the raster's CRS) the extent
    setting; `other` settings as they are."""
    resolution, crs = scaled_resolution(grid, resolution_scale)
    extent_in = grid.crs if extent_crs is None else norm_crs(extent_crs)
    return EncodeSettings(
        model=model, crs=crs, resolution=resolution,
        extent=None if extent is None else extent_text(extent, extent_in),
        stride=stride_for_overlap(get_spec(model).input_size, overlap), **other,
    )
