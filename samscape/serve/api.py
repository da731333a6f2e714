"""The HTTP API: browse the allowed roots, open sources, segment prompts in map coordinates.

Every route lives under /api. A user mistake (a SamscapeError) is a 4xx with a one-line
`detail`; invalid request bodies are 422 with pydantic's messages.
"""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from shapely.geometry import mapping

from .. import __version__, models
from ..errors import (
    BodyTooLargeError,
    HostNotAllowedError,
    OriginNotAllowedError,
    OutputLayerError,
    PathNotAllowedError,
    PathNotFoundError,
    PromptError,
    SamscapeError,
    UnknownModelError,
)
from ..geo import crs_label, norm_crs
from ..segment import PromptSet, Segmenter, Session
from ..segment.segmenter import SegmentResult
from ..vector import reproject
from .bodies import (
    MAX_POINTS,
    BoxIn,
    OpenRequest,
    OutputRequest,
    PointIn,
    PreviewRequest,
    SegmentRequest,
    SessionRequest,
    Vectorise,
)
from .copilot import copilot_routes
from .guards import LOOPBACK_HOSTS, Guard
from .roots import Roots
from .state import Jobs, Layers, Opened, Sessions, Sources
from .wording import page_words

STATIC = Path(__file__).parent / "static"
# The one table from error to HTTP status; any other SamscapeError is a 400.
STATUS = {PathNotAllowedError: 403, PathNotFoundError: 404, UnknownModelError: 404,
          HostNotAllowedError: 400, OriginNotAllowedError: 403, BodyTooLargeError: 413}


def status_of(exc: SamscapeError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)


def create_app(roots: Roots, token: str | None = None, sources: Sources | None = None,
               hosts: Iterable[str] | None = LOOPBACK_HOSTS) -> FastAPI:
    """The API over `roots` and `sources` (default: none open yet). With a `token`, every /api
    call must send `Authorization: Bearer <token>` (or `?token=`). `hosts`: the names a request's
    Host header may give (None: any, for a wildcard bind guarded by the token)."""
    sources = sources or Sources(roots)
    layers = Layers(roots)
    sessions = Sessions(sources, layers)
    jobs = Jobs()

    def authorised(authorization: Annotated[str | None, Header()] = None,
                   token_query: Annotated[str | None, Query(alias="token")] = None) -> None:
        if token is None:
            return
        given = token_query or (authorization or "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong token: use the one 'samscape serve' printed")

    app = FastAPI(title="samscape", version=__version__, dependencies=[Depends(authorised)],
                  docs_url=None, redoc_url=None)  # Swagger UI and ReDoc need a CDN: /openapi.json
    app.add_middleware(Guard, hosts=hosts, status=status_of)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Pydantic's messages without the offending input (a NaN would not serialise)."""
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"][1:]) or "body"
        return JSONResponse({"detail": f"{where}: {first['msg']}", "errors": errors}, status_code=422)

    @app.exception_handler(SamscapeError)
    async def user_error(request: Request, exc: SamscapeError) -> JSONResponse:
        return JSONResponse({"detail": page_words(str(exc))}, status_code=status_of(exc))

    @app.get("/api/health")
    def health() -> dict:
        return {"version": __version__}

    @app.get("/api/roots")
    def list_roots() -> dict:
        return {"roots": [str(p) for p in roots.paths]}

    @app.get("/api/models")
    def list_models() -> dict:
        """Every catalogue and imported model and its status on this machine (live mode can use
        any that is built in, downloaded or imported; others are downloaded on first use)."""
        return {"models": [models.describe(model_id) for model_id in models.known_ids()]}

    @app.get("/api/browse")
    def browse(path: Annotated[str | None, Query(max_length=4096)] = None) -> dict:
        """A folder's entries; kind is folder, features (a feature folder), raster, layer or file."""
        folder, entries = roots.listing(path)
        parent = folder.parent if folder not in roots.paths else None
        return {"path": str(folder), "parent": None if parent is None else str(parent),
                "entries": [vars(e) for e in entries]}

    @app.post("/api/sources", status_code=201)
    def open_a_source(body: OpenRequest) -> dict:
        """Open a feature folder (pre-encoded) or a raster (live, with `model`)."""
        source_id = sources.open(body.path, body.model, body.raster)
        return describe(source_id, sources.get(source_id))

    @app.get("/api/sources")
    def open_sources() -> dict:
        """The sources open on this server, oldest first."""
        return {"sources": [describe(sid, item) for sid, item in sources.items()]}

    @app.get("/api/sources/{source_id}")
    def source_info(source_id: str) -> dict:
        return describe(source_id, sources.get(source_id))

    @app.delete("/api/sources/{source_id}", status_code=204)
    def close_source(source_id: str) -> None:
        sources.close(source_id)

    @app.get("/api/sources/{source_id}/progress")
    def encoding_progress(source_id: str) -> dict:
        """Chips encoded so far by a live source's running encoding."""
        return sources.get(source_id).progress.to_json()

    @app.get("/api/sources/{source_id}/chips")
    def chip_footprints(source_id: str) -> dict:
        """The chip grid as GeoJSON polygons in the source's CRS; `encoded` tells which chips
        have features now."""
        source = sources.get(source_id).source
        encoded = source.encoded_ids()
        return {"type": "FeatureCollection", "crs": crs_label(source.crs), "features": [
            {"type": "Feature", "geometry": mapping(chip.footprint),
             "properties": {"id": chip.chip_id, "encoded": chip.chip_id in encoded}}
            for chip in source.chips]}

    @app.get("/api/sources/{source_id}/tiles/{z}/{x}/{y}.png",
             responses={200: {"content": {"image/png": {}}}}, response_class=Response)
    def tile(source_id: str, z: int, x: int, y: int) -> Response:
        """A 256² PNG tile of the source's raster in its CRS (grid: `tiles` of the source)."""
        tiles = sources.get(source_id).tiles
        if tiles is None:
            raise PathNotFoundError("this source's raster was not found under the allowed roots; "
                                    "open it again with its raster")
        return Response(tiles.tile(z, x, y), media_type="image/png",
                        headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/sources/{source_id}/segment")
    def segment(source_id: str, body: SegmentRequest) -> dict:
        """One object from the prompts, without a session: a GeoJSON FeatureCollection of its
        polygons (in `crs`), largest first, with the predicted IoU and the chips decoded."""
        item = sources.get(source_id)
        crs = norm_crs(body.crs) if body.crs else item.source.crs
        prompts = PromptSet(crs)
        for p in body.points:
            prompts = prompts.add_point(p.x, p.y, p.label)
        if body.box is not None:
            prompts = prompts.with_box(body.box)
        with item.lock, _encoding(item):
            result = Segmenter(item.source, body.options()).segment(prompts)
        return result_json(result, crs)

    @app.post("/api/sessions", status_code=201)
    def start_session(body: SessionRequest) -> dict:
        """A session on an open source: prompts for one object at a time, saved to `output`."""
        session_id = sessions.create(body.source, body.output, body.crs, body.options())
        return session_json(session_id, sessions.get(session_id)[1])

    @app.get("/api/sessions/{session_id}")
    def session_state(session_id: str) -> dict:
        return session_json(session_id, sessions.get(session_id)[1])

    @app.delete("/api/sessions/{session_id}", status_code=204)
    def end_session(session_id: str) -> None:
        sessions.close(session_id)

    @app.put("/api/sessions/{session_id}/output")
    def set_output(session_id: str, body: OutputRequest) -> dict:
        """Save to this layer from now on: a new file, or an existing samscape layer."""
        session = sessions.get(session_id)[1]
        session.set_layer(layers.get(body.path, session.crs))
        return session_json(session_id, session)

    @app.put("/api/sessions/{session_id}/options")
    def set_options(session_id: str, body: Vectorise) -> dict:
        session = sessions.get(session_id)[1]
        session.set_vector(body.options())
        return session_json(session_id, session)

    @app.post("/api/sessions/{session_id}/points")
    def add_point(session_id: str, body: PointIn) -> dict:
        item, session = sessions.get(session_id)
        if len(session.prompts.points) >= MAX_POINTS:
            raise PromptError(f"an object takes at most {MAX_POINTS} points; save or clear first")
        with _encoding(item):
            session.add_point(body.x, body.y, body.label)
        return session_json(session_id, session)

    @app.post("/api/sessions/{session_id}/box")
    def set_box(session_id: str, body: BoxIn) -> dict:
        item, session = sessions.get(session_id)
        with _encoding(item):
            session.set_box(*body.box)
        return session_json(session_id, session)

    @app.post("/api/sessions/{session_id}/undo")
    def undo(session_id: str) -> dict:
        session = sessions.get(session_id)[1]
        session.undo()
        return session_json(session_id, session)

    @app.post("/api/sessions/{session_id}/clear")
    def clear(session_id: str) -> dict:
        session = sessions.get(session_id)[1]
        session.clear()
        return session_json(session_id, session)

    @app.post("/api/sessions/{session_id}/preview")
    def preview(session_id: str, body: PreviewRequest) -> dict | None:
        """The result with a temporary point and/or box; nothing is kept. Null when there is
        nothing to segment."""
        item, session = sessions.get(session_id)
        with _encoding(item):
            result = session.preview(body.x, body.y, body.label, body.box)
        return None if result is None else result_json(result, session.crs)

    @app.post("/api/sessions/{session_id}/save")
    def save(session_id: str) -> dict:
        """Write the current object to the output layer as one group; the prompts are cleared."""
        session = sessions.get(session_id)[1]
        group = session.save()
        return {"group_id": group.group_id, "polygons": len(group.rows),
                "session": session_json(session_id, session)}

    @app.post("/api/sessions/{session_id}/undo-save")
    def undo_save(session_id: str) -> dict:
        """Remove the last group this session saved from the output layer."""
        session = sessions.get(session_id)[1]
        group_id = session.undo_save()
        return {"group_id": group_id, "session": session_json(session_id, session)}

    @app.get("/api/sessions/{session_id}/saved")
    def saved(session_id: str) -> dict:
        """Every polygon in the output layer, as GeoJSON in the session's CRS."""
        session = sessions.get(session_id)[1]
        layer = sessions.layer_of(session_id)
        rows = layer.read()
        polygons = reproject([r.geometry for r in rows], layer.crs, session.crs)
        return {"type": "FeatureCollection", "crs": crs_label(session.crs), "features": [
            {"type": "Feature", "geometry": mapping(p), "properties": r.properties()}
            for p, r in zip(polygons, rows, strict=True)]}

    @app.get("/api/sessions/{session_id}/download", response_class=Response,
             responses={200: {"content": {"application/octet-stream": {}}}})
    def download(session_id: str) -> Response:
        """The output layer's file (a Shapefile as a zip of its parts)."""
        layer = sessions.layer_of(session_id)
        files = layer.contents()
        if not files:
            raise OutputLayerError("nothing is saved in the output layer yet: save an object first")
        name, data = next(iter(files.items()))
        media = "application/octet-stream"
        if len(files) > 1:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for part, content in files.items():
                    archive.writestr(part, content)
            name, data, media = f"{layer.path.stem}.zip", buffer.getvalue(), "application/zip"
        return Response(data, media_type=media, headers={"Content-Disposition": attachment(name)})

    app.include_router(copilot_routes(roots, jobs))
    if STATIC.is_dir():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="app")
    return app


@contextmanager
def _encoding(item: Opened) -> Iterator[None]:
    """Marks a live source's encoding progress finished when the request ends."""
    try:
        yield
    finally:
        item.progress.finish()


def attachment(name: str) -> str:
    """A Content-Disposition for a download named `name` (any characters: the header itself is
    latin-1): an ASCII fallback for old clients, and the name itself as UTF-8 (RFC 6266)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def result_json(result: SegmentResult, crs) -> dict:
    """A result as a GeoJSON FeatureCollection in `crs`, with its score and chips."""
    polygons = reproject(list(result.polygons), result.crs, crs)
    return {"type": "FeatureCollection", "crs": crs_label(crs), "score": result.score,
            "chips": list(result.chip_ids),
            "features": [{"type": "Feature", "geometry": mapping(p),
                          "properties": {"area": p.area}} for p in polygons]}


def session_json(session_id: str, session: Session) -> dict:
    prompts, result, layer = session.prompts, session.result, session.layer
    return {
        "id": session_id, "crs": crs_label(session.crs),
        "points": [{"x": p.x, "y": p.y, "label": p.label} for p in prompts.points],
        "box": None if prompts.box is None else list(prompts.box),
        "result": None if result is None else result_json(result, session.crs),
        "output": None if layer is None else str(layer.path),
        "output_crs": None if layer is None else crs_label(layer.crs),
        "saved_groups": session.saved_groups,
    }


def describe(source_id: str, item: Opened) -> dict:
    source = item.source
    return {
        "id": source_id, "path": str(item.path), "name": source.name, "model": source.model_id,
        "mode": source.mode, "crs": crs_label(source.crs),
        "crs_wkt": source.crs.to_wkt(), "proj4": source.crs.to_proj4(),
        "extent": list(source.grid.bounds), "chips": len(source.chips),
        "encoded": len(source.encoded_ids()),
        "bands": list(source.metadata.preprocessing.bands),
        "value_range": list(source.metadata.preprocessing.value_range),
        "raster": None if item.raster is None else str(item.raster),
        "tiles": None if item.tiles is None else item.tiles.grid.to_json(),
    }
