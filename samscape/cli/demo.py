"""`samscape demo`: the whole workflow on a generated scene with known ground truth."""

from __future__ import annotations

import json

import click

from .options import device_opt, json_opt, quiet_opt, threads_opt


@click.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False), default="samscape-demo",
              show_default=True, help="Folder for the scene, its features and the polygons.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which scene to generate.")
@click.option("--size", type=click.IntRange(256, 8192), default=2048, show_default=True,
              help="Scene width and height in pixels (0.5 m each).")
@device_opt
@threads_opt("batch")
@json_opt
@quiet_opt
def demo_command(out: str, seed: int, size: int, device: str, as_json: bool, quiet: bool) -> None:
    """Generate a synthetic orthophoto, encode it with the bundled demo model, segment every
    ground-truth object from one point, save the polygons and print the IoU per class."""
    from ..demo.run import run_demo

    report = run_demo(out, seed=seed, size=size, device=device, progress=not (quiet or as_json))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"scene    {report.raster} (ground truth {report.truth})")
    click.echo(f"features {report.folder}")
    click.echo(f"polygons {report.output}  preview {report.preview}")
    click.echo(f"{'class':<10} {'objects':>7} {'mean IoU':>9}")
    for cls, iou in report.iou_by_class.items():
        click.echo(f"{cls:<10} {report.count_by_class[cls]:>7} {iou:>9.3f}")
    click.echo(f"{'all':<10} {report.objects:>7} {report.mean_iou:>9.3f}   "
               f"({report.seconds['total']:.0f} s)")
