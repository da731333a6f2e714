"""The models this server can run: list them, download, import and remove them in its store."""

from __future__ import annotations

from fastapi import APIRouter

from ... import models
from ..bodies import ImportModelRequest
from ..depends import Server

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("")
def list_models() -> dict:
    """Every catalogue and imported model and its status on this machine (live mode can use
    any that is built in, downloaded or imported; others are downloaded on first use)."""
    return {"models": [models.describe(model_id) for model_id in models.known_ids()]}


@router.post("/{model_id}/download", status_code=202)
def download_model(model_id: str, server: Server) -> dict:
    """Fetch a catalogue model's pinned weights in the background; follow the job at /api/jobs."""
    models.get_spec(model_id)
    return server.jobs.download(model_id).to_json()


@router.post("/import", status_code=201)
def import_model(body: ImportModelRequest, server: Server) -> dict:
    """Copy a transformers SAM / SAM 2 folder (config.json + safetensors weights) under the
    roots into the store as model `id` (for machines without internet)."""
    models.import_folder(server.roots.resolve(body.path), body.id)
    models.forget_backends()
    return models.describe(body.id)


@router.delete("/{model_id}", status_code=204)
def remove_model(model_id: str) -> None:
    """Delete a downloaded or imported model's weights from the store."""
    models.remove(model_id)
    models.forget_backends()
