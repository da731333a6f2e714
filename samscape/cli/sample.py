"""`samscape sample-raster`: write a small synthetic GeoTIFF to try the other commands on."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from ..errors import FolderConflictError, FolderWriteError, reason


@click.command("sample-raster")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--seed", default=0, show_default=True, help="Different seeds, different scenes.")
def sample_command(path: str, seed: int) -> None:
    """Write a 1200x900 px synthetic RGB GeoTIFF (UTM 33N, 0.5 m), a small demo scene, to PATH."""
    from rasterio.errors import RasterioError

    from ..demo import generate_scene

    if Path(path).exists():
        raise FolderConflictError(f"'{path}' exists; choose a new file name")
    try:
        generate_scene(seed, 1200, 900).write_raster(path)
    except (OSError, RasterioError) as exc:
        with contextlib.suppress(OSError):  # nothing was written where nothing can be
            Path(path).unlink(missing_ok=True)
        why = reason(exc)
        raise FolderWriteError(f"cannot write '{path}' ({why}); choose a folder that exists and "
                               "that you can write to") from None
    click.echo(path)
