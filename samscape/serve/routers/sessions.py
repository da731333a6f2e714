"""Segmentation sessions: prompts for one object at a time on an open source, each object saved
as one group to the session's output layer, which the client can read back and download."""

from __future__ import annotations

import io
import re
import zipfile
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Response

from ...errors import OutputLayerError, PromptError
from ...geo import norm_crs
from ..bodies import (
    MAX_POINTS,
    BoxIn,
    GroupRequest,
    OutputRequest,
    PointIn,
    PreviewRequest,
    SessionRequest,
    Vectorise,
)
from ..depends import Server
from ..jobs import encoding
from ..views import group_json, layer_json, result_json, session_json

if TYPE_CHECKING:
    from ...vector import OutputLayer

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


@router.post("", status_code=201)
def start_session(body: SessionRequest, server: Server) -> dict:
    """A session on an open source: prompts for one object at a time, saved to `output`."""
    session_id = server.sessions.create(body.source, body.output, body.crs, body.options())
    return session_json(session_id, server.sessions.get(session_id)[1])


@router.get("/{session_id}")
def session_state(session_id: str, server: Server) -> dict:
    return session_json(session_id, server.sessions.get(session_id)[1])


@router.delete("/{session_id}", status_code=204)
def end_session(session_id: str, server: Server) -> None:
    server.sessions.close(session_id)


@router.put("/{session_id}/output")
def set_output(session_id: str, body: OutputRequest, server: Server) -> dict:
    """Save to this layer from now on: a new file, or an existing samscape layer."""
    session = server.sessions.get(session_id)[1]
    session.set_layer(server.layers.get(body.path, session.crs))
    return session_json(session_id, session)


@router.put("/{session_id}/options")
def set_options(session_id: str, body: Vectorise, server: Server) -> dict:
    session = server.sessions.get(session_id)[1]
    session.set_vector(body.options())
    return session_json(session_id, session)


@router.post("/{session_id}/points")
def add_point(session_id: str, body: PointIn, server: Server) -> dict:
    item, session = server.sessions.get(session_id)
    if len(session.prompts.points) >= MAX_POINTS:
        raise PromptError(f"an object takes at most {MAX_POINTS} points; save or clear first")
    with encoding(item.progress):
        session.add_point(body.x, body.y, body.label)
    return session_json(session_id, session)


@router.post("/{session_id}/box")
def set_box(session_id: str, body: BoxIn, server: Server) -> dict:
    item, session = server.sessions.get(session_id)
    with encoding(item.progress):
        session.set_box(*body.box)
    return session_json(session_id, session)


@router.post("/{session_id}/undo")
def undo(session_id: str, server: Server) -> dict:
    session = server.sessions.get(session_id)[1]
    session.undo()
    return session_json(session_id, session)


@router.post("/{session_id}/clear")
def clear(session_id: str, server: Server) -> dict:
    session = server.sessions.get(session_id)[1]
    session.clear()
    return session_json(session_id, session)


@router.post("/{session_id}/preview")
def preview(session_id: str, body: PreviewRequest, server: Server) -> dict | None:
    """The result with a temporary point and/or box; nothing is kept. Null when there is
    nothing to segment."""
    item, session = server.sessions.get(session_id)
    with encoding(item.progress):
        result = session.preview(body.x, body.y, body.label, body.box)
    return None if result is None else result_json(result, session.crs)


@router.post("/{session_id}/save")
def save(session_id: str, server: Server) -> dict:
    """Write the current object to the output layer as one group; the prompts are cleared."""
    session = server.sessions.get(session_id)[1]
    group = session.save()
    return {"group_id": group.group_id, "polygons": len(group.rows),
            "session": session_json(session_id, session)}


@router.post("/{session_id}/group")
def take_group(session_id: str, body: GroupRequest, server: Server) -> dict:
    """The current object as the rows of one group, in `crs`, with the fields a save writes, for a
    layer the client writes itself (QGIS's edit buffer): nothing is written here and undo-save
    does not know it; the prompts are cleared, as by a save."""
    session = server.sessions.get(session_id)[1]
    crs = session.crs if body.crs is None else norm_crs(body.crs)
    group = session.take(crs)
    return {"group_id": group.group_id, "polygons": len(group.rows), "features": group_json(group, crs),
            "session": session_json(session_id, session)}


@router.post("/{session_id}/undo-save")
def undo_save(session_id: str, server: Server) -> dict:
    """Remove the last group this session saved from the output layer."""
    session = server.sessions.get(session_id)[1]
    group_id = session.undo_save()
    return {"group_id": group_id, "session": session_json(session_id, session)}


@router.get("/{session_id}/saved")
def saved(session_id: str, server: Server) -> dict:
    """Every polygon in the output layer, as GeoJSON in the session's CRS."""
    session = server.sessions.get(session_id)[1]
    return layer_json(server.sessions.layer_of(session_id), session.crs)


@router.get("/{session_id}/download", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def download(session_id: str, server: Server) -> Response:
    """The output layer's file (a Shapefile as a zip of its parts)."""
    name, data, media = layer_file(server.sessions.layer_of(session_id))
    return Response(data, media_type=media, headers={"Content-Disposition": attachment(name)})


def layer_file(layer: OutputLayer) -> tuple[str, bytes, str]:
    """The layer as one file to download: its name, bytes and media type (several parts, as a
    Shapefile has, zipped)."""
    files = layer.contents()
    if not files:
        raise OutputLayerError("nothing is saved in the output layer yet: save an object first")
    if len(files) == 1:
        name, data = next(iter(files.items()))
        return name, data, "application/octet-stream"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part, content in files.items():
            archive.writestr(part, content)
    return f"{layer.path.stem}.zip", buffer.getvalue(), "application/zip"


def attachment(name: str) -> str:
    """A Content-Disposition for a download named `name` (any characters: the header itself is
    latin-1): an ASCII fallback for old clients, and the name itself as UTF-8 (RFC 6266)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
