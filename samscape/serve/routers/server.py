"""What this server is and can run: its version and the models it knows."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__, models

router = APIRouter(prefix="/api", tags=["server"])


@router.get("/health")
def health() -> dict:
    return {"version": __version__}


@router.get("/models")
def list_models() -> dict:
    """Every catalogue and imported model and its status on this machine (live mode can use
    any that is built in, downloaded or imported; others are downloaded on first use)."""
    return {"models": [models.describe(model_id) for model_id in models.known_ids()]}
