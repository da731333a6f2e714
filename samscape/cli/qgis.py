"""`samscape qgis`: install the QGIS plugin into a QGIS profile, or build its zip."""

from __future__ import annotations

from pathlib import Path

import click

from .. import qgis_install


@click.group("qgis")
def qgis_group() -> None:
    """The samscape plugin for QGIS (it starts this samscape as its engine; no torch in QGIS)."""


@qgis_group.command("install")
@click.option("--profile", default="default", show_default=True, help="The QGIS user profile.")
@click.option("--link", is_flag=True,
              help="Link to the plugin's source instead of copying it (for developers: edits show "
                   "after a QGIS restart or a plugin reload).")
@click.option("--qgis-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="QGIS's settings folder, the one holding profiles/ [default: this user's QGIS3 folder].")
def install_command(profile: str, link: bool, qgis_dir: Path | None) -> None:
    """Put the plugin in a QGIS profile (replacing only an earlier samscape plugin), record this
    samscape as its engine command and enable it."""
    done = qgis_install.install(profile, qgis_dir, link)
    how = "linked" if done.linked else "copied"
    click.echo(f"samscape: QGIS plugin {how} to {done.plugin}; engine command: {done.engine_command}")
    click.echo(f"samscape: next: (re)start QGIS with profile '{profile}'; the plugin is enabled "
               "(Plugins > Manage and Install Plugins lists it)")


@qgis_group.command("package")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="The zip to write [default: samscape_qgis-VERSION.zip in the current folder].")
@click.option("--overwrite", is_flag=True, help="Replace FILE if it exists.")
def package_command(out: Path | None, overwrite: bool) -> None:
    """Build the plugin's zip for a QGIS plugin repository (or Plugins > Install from ZIP)."""
    written = qgis_install.package(out, overwrite)
    click.echo(f"samscape: QGIS plugin zip written to {written}")
