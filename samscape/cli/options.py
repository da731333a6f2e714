"""Options shared by more than one subcommand, defined once (as rasterio's `rio/options.py`):
`@device_opt` and the like stack on a click command as its own `@click.option`s would."""

from __future__ import annotations

import click

from ..threads import Role


def _device(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """A device name this machine can use, else a one-line DeviceError before anything is done
    (auto and cpu always are: no torch is imported for them here)."""
    if value not in ("auto", "cpu"):
        from ..models import pick_device

        pick_device(value)
    return value


device_opt = click.option(
    "--device", default="auto", show_default=True, metavar="auto|cpu|cuda|mps", callback=_device,
    help="Where the model runs: auto picks cuda, then mps, then cpu.")

live_model_opt = click.option(
    "--model", help="Model for a raster SOURCE, segmented live (see 'samscape models list'); a "
                    "feature folder brings its own (a Geo-SAM folder: give the model whose weights "
                    "encoded it, e.g. an imported checkpoint, when its checkpoint name is not enough).")

settings_opt = click.option(
    "--settings", "settings_file", type=click.Path(dir_okay=False), metavar="FILE",
    help="Encoding settings: a JSON file whose keys are 'samscape encode' flags (the Copilot's "
         "download); flags win.")

base_path_opt = click.option(
    "--base-path", metavar="PATH",
    help="Geo-SAM: the absolute path the folder will have where Geo-SAM opens it (Geo-SAM reads chip "
         "paths verbatim) [default: the folder's own path].")

checkpoint_opt = click.option(
    "--checkpoint", metavar="NAME.pt",
    help="Geo-SAM: the checkpoint file name to record for a model Geo-SAM's plugin does not list "
         "(MODEL_ID.pt), or a Geo-SAM name of its family for an imported model.")

json_opt = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")

quiet_opt = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


def threads_opt(role: Role):
    """`--threads N`, applied (samscape/threads.py) as soon as it is parsed, before any torch
    is loaded; `role` picks the default."""

    def apply(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        from ..threads import apply

        apply(role, value)

    default = ("1 up to 4 cores, then a quarter of them, at most 4" if role == "interactive"
               else "one per core")
    return click.option(
        "--threads", metavar="N", expose_value=False, callback=apply,
        help=f"CPU threads for the model, at most one per core [env: SAMSCAPE_THREADS; default: {default}; "
             "OMP_NUM_THREADS if set].")
