"""The `samscape` command group and the one place where errors become exit codes."""

from __future__ import annotations

import errno
import os
import warnings

import click

from .. import __version__
from ..errors import SamscapeError, Terminated

# What the machine refused (not a bug of samscape), and what the user can do about it.
_OS_FIXES = {errno.ENAMETOOLONG: "give a shorter name", errno.ENOSPC: "free some space",
             errno.EDQUOT: "free some space", errno.EACCES: "choose a place you may use",
             errno.EPERM: "choose a place you may use", errno.EROFS: "choose a place you may write to",
             errno.ENOTDIR: "a part of the path is a file; give a path of folders"}
_RESUMABLE = ("encode",)


class _Group(click.Group):
    """Turns SamscapeError, and what the machine refused (a name too long, a full disk, no
    permission), into one line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SamscapeError as exc:
            click.echo(f"samscape: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            if exc.errno not in _OS_FIXES:
                raise
            where = f" ('{exc.filename}')" if exc.filename else ""
            click.echo(f"samscape: error: {exc.strerror}{where}; {_OS_FIXES[exc.errno]}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt as exc:
            resume = "; run the same command again to resume" if ctx.invoked_subcommand in _RESUMABLE else ""
            click.echo(f"samscape: interrupted{resume}", err=True)
            ctx.exit(143 if isinstance(exc, Terminated) else 130)


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
