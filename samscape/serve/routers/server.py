"""What this server is and can run: its version and the models it knows."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__, models

API_VERSION = 1
"""The HTTP API's version: bumped when a change breaks a client (the QGIS plugin checks it)."""

router = APIRouter(prefix="/api", tags=["server"])


@router.get("/health")
def health() -> dict:
    """This samscape's version and its API's (`api`, an integer)."""
    return {"version": __version__, "api": API_VERSION}


@router.get("/models")
def list_models() -> dict:
    """Every catalogue and imported model and its status on this machine (live mode can use
    any that is built in, downloaded or imported; others are downloaded on first use)."""
    return {"models": [models.describe(model_id) for model_id in models.known_ids()]}
