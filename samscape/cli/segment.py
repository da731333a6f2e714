"""`samscape segment`: prompts in map coordinates → polygons in a GIS layer."""

from __future__ import annotations

import json

import click

from ..errors import PromptError, SettingsError
from ..segment import DEFAULT_MAX_CHIPS
from .options import device_opt, json_opt, live_model_opt, quiet_opt, settings_opt, threads_opt


@click.command("segment")
@click.argument("source")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Output layer: .gpkg (FILE.gpkg:LAYER names the layer, default the file's stem; "
                   "other layers are left as they are), .shp, .geojson, .fgb or .parquet; appended to.")
@live_model_opt
@click.option("--point", "points", multiple=True, metavar="X,Y", help="Foreground point.")
@click.option("--bg-point", "bg_points", multiple=True, metavar="X,Y", help="Background point.")
@click.option("--box", "boxes", multiple=True, metavar="XMIN,YMIN,XMAX,YMAX",
              help="Box; with points, at most one (several boxes alone make one object each).")
@click.option("--crs", help="CRS of the prompt coordinates, e.g. EPSG:4326 or 4326 [default: the "
              "source's; for --prompts, the file's own CRS wins].")
@click.option("--prompts", "prompts_file", type=click.Path(dir_okay=False),
              help="Vector file of prompts: points (label 1/0, optional group) and polygons (boxes); "
                   "FILE.gpkg:LAYER for one layer of a GeoPackage; or a CSV with x,y or lon,lat "
                   "columns (optional label, group).")
@click.option("--vectorize", type=click.Choice(["pixel", "simplified"]), default="pixel",
              show_default=True, help="Polygon edges on pixel edges, or simplified.")
@click.option("--tolerance", type=float, default=1.0, show_default=True,
              help="Simplification tolerance in pixels.")
@click.option("--max-polygon-only", is_flag=True, help="Keep only the largest polygon of each object.")
@click.option("--min-area", type=float, default=0.0, help="Drop polygons smaller than this (m²).")
@click.option("--min-pixels", type=float, default=4.0, show_default=True,
              help="Drop specks: parts of an object smaller than this many pixels (0 keeps them).")
@click.option("--fill-holes", type=float, default=0.0,
              help="Fill holes smaller than this (m²).")
@click.option("--skip-outside", is_flag=True,
              help="Segment the objects inside the source and skip, with a warning, those with a "
                   "prompt outside it or on nodata [default: refuse them all].")
@click.option("--max-chips", type=int, default=DEFAULT_MAX_CHIPS, show_default=True,
              help="Chips one object may span (continued across chip edges).")
@click.option("--out-crs", help="CRS of a new output layer [default: the source's; an existing "
                                "layer keeps its own].")
@settings_opt
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False),
              help="Live: feature folder the chips are encoded into [default: under SAMSCAPE_HOME].")
@device_opt
@threads_opt("interactive")
@json_opt
@quiet_opt
def segment_command(source: str, out: str, model: str | None, points: tuple[str, ...],
                    bg_points: tuple[str, ...], boxes: tuple[str, ...], crs: str | None,
                    prompts_file: str | None, vectorize: str, tolerance: float,
                    max_polygon_only: bool, min_area: float, min_pixels: float, fill_holes: float,
                    skip_outside: bool, max_chips: int,
                    out_crs: str | None, settings_file: str | None, cache_dir: str | None,
                    device: str, as_json: bool, quiet: bool) -> None:
    """Segment objects in SOURCE (a feature folder, or a raster with --model) and save them.

    Coordinates are in --crs (default: the source's CRS). Each object is saved as one group;
    --json prints what was saved as GeoJSON. --settings and --cache are for a raster SOURCE.
    """
    from shapely.geometry import mapping

    from ..geo import norm_crs
    from ..segment import PromptSet, Segmenter, read_prompts, save_results
    from ..sources import open_source
    from ..vector import OutputLayer, VectorOptions, driver_for

    driver_for(out)
    vector = VectorOptions(vectorize, tolerance, max_polygon_only, min_area, fill_holes, min_pixels)
    if prompts_file and (points or bg_points or boxes):
        raise SettingsError("give prompts either with --prompts or with --point/--bg-point/--box")
    if not (prompts_file or points or boxes):
        raise SettingsError("nothing to segment: give --point X,Y, --box XMIN,YMIN,XMAX,YMAX or "
                            "--prompts FILE")
    live = {}
    if _is_folder(source) and (settings_file or cache_dir):
        raise SettingsError("--settings and --cache are for live segmentation of a raster; "
                            f"'{source}' is a folder")
    if model is not None and not _is_folder(source):
        live = {"settings": _live_settings(settings_file, model), "cache_dir": cache_dir,
                "progress": not quiet}
    with open_source(source, model, device=device, **live) as src:
        prompt_crs = norm_crs(crs) if crs else src.crs
        if prompts_file:
            objects = read_prompts(prompts_file, crs, default_crs=src.crs)
        else:
            objects = _objects(PromptSet(prompt_crs), points, bg_points, boxes)
        layer = OutputLayer(out, norm_crs(out_crs) if out_crs else OutputLayer.crs_of(out) or src.crs)
        segmenter = Segmenter(src, vector, max_chips)
        if skip_outside:
            objects = _placeable(segmenter, objects)
        try:
            results = segmenter.segment_many(objects, progress=not quiet and len(objects) > 1)
        except PromptError as exc:
            if len(objects) > 1:
                raise PromptError(f"{exc}; or pass --skip-outside to segment the others") from None
            raise
        groups = save_results(layer, results, src.model_id, src.name)
    rows = [row for g in groups for row in g.rows]
    if as_json:
        click.echo(json.dumps({
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": _crs_name(layer.crs)}},
            "features": [{"type": "Feature", "geometry": mapping(r.geometry),
                          "properties": r.properties()} for r in rows],
        }))
    else:
        no_mask = sum(r.is_empty and not r.mask.any() for r in results)
        filtered = sum(r.is_empty for r in results) - no_mask
        cut_off = sum(r.cut_off for r in results)
        note = (f"; {no_mask} object(s) gave no mask" if no_mask else "") + (
            f"; {filtered} object(s) kept no polygon (all below --min-area or --min-pixels)"
            if filtered else "") + (
            f"; {cut_off} object(s) went on past --max-chips {max_chips} chips and were cut off there "
            "(raise --max-chips, or encode at a coarser --resolution)" if cut_off else "")
        target = f"to {out}" if rows else "(nothing written)"
        click.echo(f"saved {len(rows)} polygon(s) of {len(groups)} object(s) {target}{note}")


def _placeable(segmenter, objects: list) -> list:
    """The objects `segmenter` can place; a warning for the others (PromptError if none)."""
    kept, problems = segmenter.placeable(objects)
    if not kept:
        raise PromptError(f"no object lies inside the source ({problems[0]})")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        click.echo(f"samscape: warning: skipped {len(problems)} of {len(objects)} object(s): "
                   f"{problems[0]}{more}", err=True)
    return kept


def _crs_name(crs) -> str:
    """The GeoJSON name of `crs`; coordinates are x, y (lon, lat), so WGS 84 is named CRS84."""
    return "urn:ogc:def:crs:OGC:1.3:CRS84" if crs.to_epsg() == 4326 else crs.to_string()


def _is_folder(source: str) -> bool:
    """A local folder, or a URL naming a feature folder in an object store."""
    from pathlib import Path

    from ..features.opening import folder_path
    from ..features.storage import is_url
    from ..sources.opening import is_raster_url

    return (is_url(source) and not is_raster_url(source)) or Path(folder_path(source)).is_dir()


def _live_settings(settings_file: str | None, model: str):
    from ..settings import EncodeSettings, settings_kwargs

    kwargs = settings_kwargs(settings_file, {})
    if kwargs.get("model", model) != model:
        raise SettingsError(f"--model {model} and the settings file's model {kwargs['model']} differ")
    kwargs["model"] = model
    return EncodeSettings(**kwargs)


def _objects(empty, points, bg_points, boxes) -> list:
    """The objects of the --point/--bg-point/--box flags."""
    from ..settings import parse_numbers

    boxes = [parse_numbers(b, 4, "box") for b in boxes]
    if (points or bg_points) and len(boxes) > 1:
        raise SettingsError("points go with at most one --box; use --prompts for several objects")
    if not (points or bg_points):
        return [empty.with_box(b) for b in boxes]
    prompts = empty
    for value in points:
        prompts = prompts.add_point(*parse_numbers(value, 2, "point"))
    for value in bg_points:
        prompts = prompts.add_point(*parse_numbers(value, 2, "background point"), label=0)
    if boxes:
        prompts = prompts.with_box(boxes[0])
    return [prompts]
