"""The files a client may name: the allowed roots and their folders' entries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..depends import Server

router = APIRouter(prefix="/api", tags=["files"])


@router.get("/roots")
def list_roots(server: Server) -> dict:
    return {"roots": [str(p) for p in server.roots.paths]}


@router.get("/browse")
def browse(server: Server, path: Annotated[str | None, Query(max_length=4096)] = None) -> dict:
    """A folder's entries; kind is folder, features (a feature folder), raster, layer or file."""
    roots = server.roots
    folder, entries = roots.listing(path)
    parent = folder.parent if folder not in roots.paths else None
    return {"path": str(folder), "parent": None if parent is None else str(parent),
            "entries": [vars(e) for e in entries]}
