"""`samscape models`: list, download, import and remove model weights."""

from __future__ import annotations

import json

import click

from .. import models as store
from .options import json_opt


@click.group("models")
def models_group() -> None:
    """Manage the models in the catalogue and in the local store."""


@models_group.command("list")
@json_opt
def list_command(as_json: bool) -> None:
    """Every catalogue and imported model, and whether it is on this machine ('broken': its
    record in the store is damaged; the line says how to fix it)."""
    rows = [store.describe(model_id) for model_id in store.known_ids()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        label = " [test model]" if row["test_only"] else ""
        about = row["problem"] or f"{row['description']}{label}"
        click.echo(f"{row['id']:<24} {row['status']:<15} {about}")


@models_group.command("download")
@click.argument("model_id")
def download_command(model_id: str) -> None:
    """Fetch MODEL_ID's pinned weights from the Hugging Face hub."""
    path = store.download(model_id)
    click.echo(f"{model_id}: {store.status(model_id)} at {path}")


@models_group.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--id", "--as", "model_id", required=True,
              help="Catalogue id (a transformers folder of its weights), or a new id.")
def import_command(path: str, model_id: str) -> None:
    """Import PATH into the store (for air-gapped machines): a transformers SAM/SAM 2 folder
    (config.json + *.safetensors), or a Meta-format checkpoint file, converted: SAM's
    sam_vit_b/l/h .pth, SAM 2/2.1's .pt, or Ultralytics' (Geo-SAM's) sam_b.pt, sam2.1_t.pt, ..."""
    target = store.import_model(path, model_id)
    click.echo(f"{model_id}: imported to {target}")


@models_group.command("remove")
@click.argument("model_id")
def remove_command(model_id: str) -> None:
    """Delete MODEL_ID's weights from the store."""
    store.remove(model_id)
    click.echo(f"{model_id}: removed")
