"""The `samscape` command group and the one place where errors become exit codes."""

from __future__ import annotations

import os
import warnings

import click

from .. import __version__
from ..errors import SamscapeError


class _Group(click.Group):
    """Turns SamscapeError into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SamscapeError as exc:
            click.echo(f"samscape: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("samscape: interrupted; run the same command again to resume", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="samscape")
def cli() -> None:
    """Segment Anything on large georeferenced rasters."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # A raster without georeferencing is refused (or given a CRS) in one line: not a warning first.
    warnings.filterwarnings("ignore", message="Dataset has no geotransform")


def _register() -> None:
    from .convert import convert_command
    from .demo import demo_command
    from .encode import encode_command
    from .info import info_command
    from .models import models_group
    from .qgis import qgis_group
    from .sample import sample_command
    from .segment import segment_command
    from .serve import serve_command

    cli.add_command(convert_command)
    cli.add_command(demo_command)
    cli.add_command(encode_command)
    cli.add_command(info_command)
    cli.add_command(models_group)
    cli.add_command(qgis_group)
    cli.add_command(sample_command)
    cli.add_command(segment_command)
    cli.add_command(serve_command)


_register()


def main() -> None:
    cli(prog_name="samscape")


if __name__ == "__main__":
    main()
