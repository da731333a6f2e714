"""`samscape info`: what a feature folder holds, and whether every chip is sound."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ..errors import FeatureFolderError, ModelNotAvailableError, UnknownModelError

if TYPE_CHECKING:
    from ..features import FeatureFolder


def _format(name: str, version: int) -> str:
    """'samscape v1'; 'geosam-v2', whose name holds its version."""
    return name if name.endswith(f"-v{version}") else f"{name} v{version}"


def _model_mismatch(features: FeatureFolder) -> str | None:
    """Whether the folder's model, if on this machine, can take its features (None if it can, or
    if the model is not here to ask)."""
    from ..models import load_backend

    try:
        backend = load_backend(features.metadata.model.id, "cpu", download_missing=False)
    except (ModelNotAvailableError, UnknownModelError):
        return None
    return features.model_mismatch(backend.spec.input_size, backend.feature_shapes())


@click.command("info")
@click.argument("folder")
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON object.")
@click.option("--model", "model_id", help="A Geo-SAM folder: the model whose weights encoded it (e.g. an "
              "imported checkpoint) [default: from its checkpoint name]; a samscape folder brings its own.")
@click.option("--validate", is_flag=True,
              help="Load and check every chip; exit 1 naming any missing or corrupt.")
def info_command(folder: str, as_json: bool, model_id: str | None, validate: bool) -> None:
    """Describe the feature folder FOLDER."""
    from ..features import open_folder
    from ..geo.crs import plain_number

    features = open_folder(folder, model_id)
    summary = features.summary()
    problems: dict[str, str] = {}
    if validate:
        mismatch = _model_mismatch(features)
        if mismatch is not None:
            problems["model"] = mismatch
        problems.update({str(k): v for k, v in features.problems().items()})
        summary["problems"] = problems
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        model = summary["model"]
        pre = summary["preprocessing"]
        state = "complete" if summary["complete"] else "incomplete: run samscape encode to finish"
        extent = ", ".join(map(plain_number, summary["extent"])) if summary["extent"] else "-"
        lines = [
            f"folder:        {summary['path']}",
            f"chips:         {summary['chip_count']} of {summary['grid_chip_count']} "
            f"({summary['nodata_chip_count']} all nodata; {state})",
            f"crs:           {summary['crs'] if len(summary['crs']) < 60 else 'custom (WKT)'}",
            f"extent:        {extent}",
            f"model:         {model['id']} ({model['family']}, input {model['input_size']} px)",
            f"source:        {pre['source_name']}, bands {pre['bands']}, "
            f"range {pre['value_range']}, resolution {pre['resolution']}",
            f"chip grid:     {pre['chip_size']} px chips, stride {pre['stride']}",
            f"dtype:         {summary['dtype']}",
            f"size on disk:  {summary['size_bytes'] / 2**20:.1f} MiB",
            f"format:        {_format(summary['format'], summary['format_version'])}",
        ]
        click.echo("\n".join(lines))
        if validate:
            click.echo(f"validation:    {len(problems)} problem(s)")
    if problems:
        raise FeatureFolderError("; ".join(problems.values()))
