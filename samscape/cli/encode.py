"""`samscape encode`: a raster into a feature folder."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import click
from click.core import ParameterSource

from ..errors import SettingsError, Terminated
from .options import base_path_opt, checkpoint_opt, device_opt, json_opt, quiet_opt, settings_opt, threads_opt


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
@click.option("--batch-size", metavar="N|auto",
              help="Chips encoded together; auto: the largest that fits and helps on the device "
                   "(a short probe on a GPU, 4 on a CPU) [default: auto].")
@device_opt
@threads_opt("batch")
@click.option("--dtype", type=click.Choice(["float16", "float32"]),
              help="Storage precision of the features [default: float16].")
@click.option("--mixed-precision/--no-mixed-precision", default=None,
              help="Encode in bf16/fp16 where it is faster and verified: bf16 on GPUs that have it, "
                   "fp16 on others, bf16 on CPUs with native bf16, else fp32 [default: on].")
@click.option("--compile/--no-compile", "compile_", default=None,
              help="Compile the image encoder (torch.compile) for long runs: the first batch takes "
                   "a minute or more; falls back to uncompiled with a warning [default: off].")
@click.option("--cluster", metavar="ADDRESS|local[:N]",
              help="Encode on a Dask cluster: a scheduler's address (tcp://host:8786), or local / "
                   "local:N for N worker processes on this machine (one per GPU by default); needs "
                   "pip install 'samscape[cluster]'.")
@settings_opt
@click.option("--overwrite", is_flag=True, help="Replace a folder holding another encoding.")
@click.option("--format", "format_", type=click.Choice(["samscape", "geosam"]), default="samscape",
              show_default=True,
              help="geosam: write a Geo-SAM v2 folder (encoded into .OUT_DIR.samscape-encoding beside "
                   "it, which resumes and --overwrite applies to, then converted as 'samscape convert "
                   "--to geosam' does and removed unless --keep-encoding).")
@base_path_opt
@checkpoint_opt
@click.option("--keep-encoding", is_flag=True,
              help="--format geosam: keep the samscape folder it encoded into.")
@json_opt
@click.option("--progress-json", is_flag=True,
              help='For programs: one JSON line per batch on stdout, {"done": N, "total": M} (chips '
                   'this run encodes), {"step": NAME} before a slow step ("choosing batch size", '
                   '"compiling", "converting": then the chips converted), then the result as --json '
                   'prints it; no progress bar.')
@quiet_opt
@click.pass_context
def encode_command(ctx: click.Context, raster: str, out_dir: str, settings_file: str | None,
                   overwrite: bool, format_: str, base_path: str | None, checkpoint: str | None,
                   keep_encoding: bool, as_json: bool, progress_json: bool, quiet: bool, **flags) -> None:
    """Encode RASTER (any GDAL source) into the feature folder OUT_DIR.

    Running the same command again resumes an interrupted encoding (Ctrl+C, or SIGTERM, which
    stops it as Ctrl+C does: the chips written so far are kept). --format geosam writes a Geo-SAM
    v2 folder for Geo-SAM's QGIS plugin (see docs/formats.md).
    """
    from ..encoder import encode
    from ..settings import load_settings
    from ..threads import current

    if flags["range_"] is not None and flags["percentiles"] is not None:
        raise SettingsError("--range and --percentiles both give the value range; pass one of them")
    given = {name.rstrip("_"): value for name, value in flags.items()
             if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT}
    progress = _print_progress if progress_json else not quiet
    with _terminate_as_interrupt():
        result = encode(raster, out_dir, load_settings(settings_file, given),
                        overwrite=overwrite, progress=progress,
                        on_step=_print_step if progress_json else None, format=format_,
                        base_path=base_path, checkpoint=checkpoint, keep_encoding=keep_encoding)
    summary = {
        "folder": str(result.folder), "grid_chip_count": result.grid_chip_count,
        "encoded": result.encoded, "already_done": result.already_done,
        "nodata": result.nodata, "seconds": round(result.seconds, 3),
        "chips_per_second": round(result.chips_per_second, 3), "threads": current(),
        "batch_size": result.batch_size, "compiled": result.compiled, "format": format_,
    }
    if result.workers:
        summary["workers"] = result.workers
    if as_json or progress_json:
        click.echo(json.dumps(summary))
    else:
        geosam = ", written as a Geo-SAM folder" if format_ == "geosam" else ""
        click.echo(f"{result.folder}: nothing to encode, {result.already_done} of "
                   f"{result.grid_chip_count} chips already done{geosam}"
                   if not result.encoded + result.nodata else
                   f"{result.folder}: encoded {result.encoded} chip(s) "
                   f"({result.chips_per_second:.2f}/s, batch size {result.batch_size}"
                   f"{', compiled' if result.compiled else ''}"
                   f"{f', on {result.workers} Dask workers' if result.workers else ''}), "
                   f"{result.already_done} already done, "
                   f"{result.nodata} all nodata, of {result.grid_chip_count} in the grid{geosam}")


def _print_progress(done: int, total: int) -> None:
    click.echo(json.dumps({"done": done, "total": total}))  # click.echo flushes


def _print_step(name: str) -> None:
    click.echo(json.dumps({"step": name}))


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt while encoding (in the main thread, where signals are
    handled), so a terminated run flushes its manifest and says how to resume, as Ctrl+C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
