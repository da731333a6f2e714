"""`samscape convert`: a Geo-SAM v2 feature folder into a samscape one, or the other way."""

from __future__ import annotations

import json

import click

from .options import base_path_opt, checkpoint_opt, json_opt, quiet_opt


@click.command("convert")
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("dst", type=click.Path())
@click.option("--to", "to", type=click.Choice(["samscape", "geosam"]), required=True,
              help="The format of DST.")
@base_path_opt
@checkpoint_opt
@json_opt
@quiet_opt
def convert_command(src: str, dst: str, to: str, base_path: str | None, checkpoint: str | None,
                    as_json: bool, quiet: bool) -> None:
    """Convert the feature folder SRC into the new (or empty) folder DST.

    --to samscape reads a Geo-SAM v2 folder (manifest.parquet + features/chip_NNNNNN.pt);
    --to geosam writes one from a samscape folder. DST appears only when complete. See
    docs/formats.md for what each format records and what changes between them.
    """
    from ..features.convert import convert
    from ..features.opening import open_folder

    out = convert(src, dst, to, base_path=base_path, checkpoint=checkpoint, progress=not quiet)
    summary = open_folder(out).summary() if to == "samscape" else {"path": str(out.resolve())}
    if as_json:
        click.echo(json.dumps({"to": to, **summary}, indent=2))
    else:
        click.echo(f"converted '{src}' into the {to} folder '{out}'")
