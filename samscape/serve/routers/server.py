"""What this server is: its version and the version of its HTTP API."""

from __future__ import annotations

from fastapi import APIRouter

from ... import __version__

API_VERSION = 1
"""The HTTP API's version: bumped when a change breaks a client (the QGIS plugin checks it)."""

router = APIRouter(prefix="/api", tags=["server"])


@router.get("/health")
def health() -> dict:
    """This samscape's version and its API's (`api`, an integer)."""
    return {"version": __version__, "api": API_VERSION}
