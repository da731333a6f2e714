"""`samscape sample-raster`: write a small synthetic GeoTIFF to try the other commands on."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import FolderConflictError


@click.command("sample-raster")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--seed", default=0, show_default=True, help="Different seeds, different scenes.")
def sample_command(path: str, seed: int) -> None:
    """Write a 1200x900 px synthetic RGB GeoTIFF (UTM 33N, 0.5 m) to PATH."""
    from ..raster.sample import write_sample_raster

    if Path(path).exists():
        raise FolderConflictError(f"'{path}' exists; choose a new file name")
    write_sample_raster(path, seed=seed)
    click.echo(path)
