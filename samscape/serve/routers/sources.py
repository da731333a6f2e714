"""Open sources: open a feature folder or a raster, describe and close it, follow its live
encoding, show its chip grid, and segment one object on it without a session."""

from __future__ import annotations

from fastapi import APIRouter

from ...geo import Bounds, norm_crs, parse_extent
from ...segment import PromptSet
from ..bodies import OpenRequest, SegmentRequest
from ..depends import Server
from ..jobs import encoding
from ..views import chips_json, result_json, source_json

router = APIRouter(prefix="/api/sources", tags=["sources"])


@router.post("", status_code=201)
def open_a_source(body: OpenRequest, server: Server) -> dict:
    """Open a feature folder (pre-encoded) or a raster (live, with `model`)."""
    source_id = server.sources.open(body.path, body.model, body.raster)
    return source_json(source_id, server.sources.get(source_id))


@router.get("")
def open_sources(server: Server) -> dict:
    """The sources open on this server, oldest first."""
    return {"sources": [source_json(sid, item) for sid, item in server.sources.items()]}


@router.get("/{source_id}")
def source_info(source_id: str, server: Server) -> dict:
    return source_json(source_id, server.sources.get(source_id))


@router.delete("/{source_id}", status_code=204)
def close_source(source_id: str, server: Server) -> None:
    server.sources.close(source_id)


@router.get("/{source_id}/progress")
def encoding_progress(source_id: str, server: Server) -> dict:
    """Chips encoded so far by a live source's running encoding."""
    return server.sources.get(source_id).progress.to_json()


@router.get("/{source_id}/chips")
def chip_footprints(source_id: str, server: Server, bbox: str | None = None) -> dict:
    """The chip grid as GeoJSON polygons in the source's CRS (those overlapping `bbox`,
    'xmin,ymin,xmax,ymax' in that CRS, if given; none listed past 5000: `left_out` counts them);
    `encoded` tells which chips have features now, and how many do in all."""
    area = None if bbox is None else parse_extent(bbox).bounds
    return chips_json(server.sources.get(source_id), area)


@router.post("/{source_id}/segment")
def segment(source_id: str, body: SegmentRequest, server: Server) -> dict:
    """One object from the prompts, without a session: a GeoJSON FeatureCollection of its
    polygons (in `crs`), largest first, with the predicted IoU and the chips decoded."""
    from ...segment import Segmenter

    item = server.sources.get(source_id)
    crs = norm_crs(body.crs) if body.crs else item.source.crs
    prompts = PromptSet(crs)
    for p in body.points:
        prompts = prompts.add_point(p.x, p.y, p.label)
    if body.box is not None:
        prompts = prompts.with_box(Bounds(*body.box))
    with item.lock, encoding(item.progress):
        result = Segmenter(item.source, body.options()).segment(prompts)
    return result_json(result, crs)
