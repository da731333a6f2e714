"""Map tiles of an open source's raster, in the source's CRS (grid: `tiles` of the source)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ...errors import NotFoundError
from ..depends import Server

router = APIRouter(prefix="/api/sources", tags=["tiles"])


@router.get("/{source_id}/tiles/{z}/{x}/{y}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}}})
def tile(source_id: str, z: int, x: int, y: int, server: Server) -> Response:
    """A 256² PNG tile of the source's raster in its CRS (grid: `tiles` of the source)."""
    tiles = server.sources.get(source_id).tiles
    if tiles is None:
        raise NotFoundError("this source's raster was not found under the allowed roots; "
                            "open it again with its raster")
    return Response(tiles.tile(z, x, y), media_type="image/png",
                    headers={"Cache-Control": "max-age=3600"})
