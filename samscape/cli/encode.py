"""`samscape encode`: a raster into a feature folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import SettingsError
from .options import numbers

# settings-file key (also the flag name) → (EncodeSettings field, parser)
_KEYS = {
    "model": ("model", str),
    "bands": ("bands", lambda v: numbers(v, None, "bands", int)),
    "range": ("value_range", lambda v: numbers(v, 2, "range")),
    "percentiles": ("percentiles", lambda v: numbers(v, 2, "percentiles")),
    "crs": ("crs", str),
    "resolution": ("resolution", lambda v: numbers(v, 1, "resolution")[0]),
    "extent": ("extent", lambda v: v if isinstance(v, str) else numbers(v, 4, "extent")),
    "stride": ("stride", lambda v: numbers(v, 1, "stride", int)[0]),
    "batch-size": ("batch_size", lambda v: numbers(v, 1, "batch size", int)[0]),
    "device": ("device", str),
    "dtype": ("dtype", str),
    "mixed-precision": ("mixed_precision", lambda v: _boolean(v, "mixed-precision")),
}


def _boolean(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{name} {value!r} is not valid: give true or false")
    return value


def _settings_file(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SettingsError(f"cannot read settings file '{path}': {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SettingsError(f"settings file '{path}' is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SettingsError(f"settings file '{path}' must hold a JSON object of flag names")
    data = {k.replace("_", "-"): v for k, v in data.items() if v is not None}
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise SettingsError(
            f"settings file '{path}' has unknown key(s) {', '.join(unknown)}; "
            f"known keys: {', '.join(_KEYS)}"
        )
    return data


def settings_kwargs(settings_file: str | None, flags: dict) -> dict:
    """EncodeSettings keyword arguments from a settings file and flags (flags win)."""
    given = _settings_file(settings_file) if settings_file else {}
    given.update({k.replace("_", "-"): v for k, v in flags.items() if v is not None})
    return {_KEYS[key][0]: _KEYS[key][1](value) for key, value in given.items()}


@click.command("encode")
@click.argument("raster")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--model", help="Catalogue model id (see 'samscape models list').")
@click.option("--bands", help="1 to 3 band numbers, e.g. 3,2,1 [default: 1,2,3].")
@click.option("--range", "range_", metavar="MIN,MAX",
              help="Raster values mapped to 0..255 [default: from --percentiles].")
@click.option("--percentiles", metavar="LOW,HIGH",
              help="Percentiles that give the value range when --range is not set [2,98].")
@click.option("--crs", help="Target CRS (or the raster's CRS if it has none).")
@click.option("--resolution", help="Target pixel size in map units (metres for a UTM pick).")
@click.option("--extent", metavar="XMIN,YMIN,XMAX,YMAX[@CRS]", help="Processing extent.")
@click.option("--stride", help="Pixels between chip starts [default: half a chip].")
@click.option("--batch-size", help="Chips encoded together [default: 4].")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]))
@click.option("--dtype", type=click.Choice(["float16", "float32"]),
              help="Storage precision of the features [default: float16].")
@click.option("--mixed-precision/--no-mixed-precision", default=None,
              help="Encode in bf16/fp16 where it is faster and verified [default: on].")
@click.option("--settings", "settings_file", type=click.Path(dir_okay=False),
              help="JSON file with the same keys as these flags; flags win.")
@click.option("--overwrite", is_flag=True, help="Replace a folder holding another encoding.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def encode_command(raster: str, out_dir: str, settings_file: str | None, overwrite: bool,
                   as_json: bool, quiet: bool, range_: str | None, **flags) -> None:
    """Encode RASTER (any GDAL source) into the feature folder OUT_DIR.

    Running the same command again resumes an interrupted encoding.
    """
    from ..encoder import EncodeSettings, encode

    flags["range"] = range_
    result = encode(raster, out_dir, EncodeSettings(**settings_kwargs(settings_file, flags)),
                    overwrite=overwrite, progress=not quiet)
    summary = {
        "folder": str(result.folder), "grid_chip_count": result.grid_chip_count,
        "encoded": result.encoded, "already_done": result.already_done,
        "nodata": result.nodata, "seconds": round(result.seconds, 3),
        "chips_per_second": round(result.chips_per_second, 3),
    }
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"{result.folder}: encoded {result.encoded} chip(s) "
                   f"({result.chips_per_second:.2f}/s), {result.already_done} already done, "
                   f"{result.nodata} all nodata, of {result.grid_chip_count} in the grid")
