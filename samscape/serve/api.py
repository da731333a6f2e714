"""The HTTP API: browse the allowed roots, open sources, segment prompts in map coordinates.

Every route lives under /api. A user mistake (a SamscapeError) is a 4xx with a one-line
`detail`; invalid request bodies are 422 with pydantic's messages.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from shapely.geometry import mapping

from .. import __version__
from ..errors import (
    PathNotAllowedError,
    PathNotFoundError,
    SamscapeError,
    UnknownModelError,
)
from ..geo import crs_label, norm_crs
from ..segment import FeatureSource, PromptSet, Segmenter, open_source
from ..segment.sources import EncodedSource
from ..vector import VectorOptions, reproject
from .roots import Roots

MAX_POINTS = 200
STATUS = {PathNotAllowedError: 403, PathNotFoundError: 404, UnknownModelError: 404}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class OpenRequest(_Body):
    path: str = Field(min_length=1, max_length=4096)
    model: str | None = Field(None, max_length=200, description="required for a raster (live)")


class PointIn(_Body):
    x: float
    y: float
    label: Literal[0, 1] = 1


class SegmentRequest(_Body):
    points: list[PointIn] = Field(default_factory=list, max_length=MAX_POINTS)
    box: tuple[float, float, float, float] | None = Field(None, description="xmin, ymin, xmax, ymax")
    crs: str | None = Field(None, max_length=10_000, description="of the prompts and the answer; "
                            "default: the source's")
    max_polygon_only: bool = False
    vectorize: Literal["pixel", "simplified"] = "pixel"


class Opened:
    """An open source and the lock that orders segmentations on it (chip cache, live encoding)."""

    def __init__(self, source: FeatureSource, path: str) -> None:
        self.source = source
        self.path = path
        self.lock = threading.Lock()


class Sources:
    """The sources a server has open, by id ('1', '2', ...); thread-safe."""

    def __init__(self, roots: Roots) -> None:
        self.roots = roots
        self._open: dict[str, Opened] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def open(self, path: str, model: str | None = None) -> str:
        """Open a feature folder (pre-encoded) or a raster (live, with `model`) under the roots."""
        resolved = self.roots.resolve(path)
        if not resolved.exists():
            raise PathNotFoundError(f"'{path}' does not exist; give an existing feature folder or raster")
        source = open_source(resolved, model)
        with self._lock:
            source_id = str(next(self._ids))
            self._open[source_id] = Opened(source, str(resolved))
        return source_id

    def get(self, source_id: str) -> Opened:
        with self._lock:
            if source_id not in self._open:
                raise HTTPException(404, f"no open source {source_id!r}: open one with POST /api/sources")
            return self._open[source_id]

    def close(self, source_id: str) -> None:
        item = self.get(source_id)
        with self._lock:
            self._open.pop(source_id, None)
        with item.lock:
            item.source.close()

    def close_all(self) -> None:
        for source_id in list(self._open):
            self.close(source_id)


def create_app(roots: Roots, token: str | None = None, sources: Sources | None = None) -> FastAPI:
    """The API over `roots` and `sources` (default: none open yet). With a `token`, every /api
    call must send `Authorization: Bearer <token>` (or `?token=`)."""
    sources = sources or Sources(roots)

    def authorised(authorization: Annotated[str | None, Header()] = None,
                   token_query: Annotated[str | None, Query(alias="token")] = None) -> None:
        if token is None:
            return
        given = token_query or (authorization or "").removeprefix("Bearer ").strip()
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong token: use the one 'samscape serve' printed")

    app = FastAPI(title="samscape", version=__version__, dependencies=[Depends(authorised)])

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        """Pydantic's messages without the offending input (a NaN would not serialise)."""
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"][1:]) or "body"
        return JSONResponse({"detail": f"{where}: {first['msg']}", "errors": errors}, status_code=422)

    @app.exception_handler(SamscapeError)
    async def user_error(request: Request, exc: SamscapeError) -> JSONResponse:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/api/health")
    def health() -> dict:
        return {"version": __version__}

    @app.get("/api/roots")
    def list_roots() -> dict:
        return {"roots": [str(p) for p in roots.paths]}

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
        source_id = sources.open(body.path, body.model)
        return describe(source_id, sources.get(source_id))

    @app.get("/api/sources/{source_id}")
    def source_info(source_id: str) -> dict:
        return describe(source_id, sources.get(source_id))

    @app.delete("/api/sources/{source_id}", status_code=204)
    def close_source(source_id: str) -> None:
        sources.close(source_id)

    @app.post("/api/sources/{source_id}/segment")
    def segment(source_id: str, body: SegmentRequest) -> dict:
        """One object from the prompts: a GeoJSON FeatureCollection of its polygons (in `crs`),
        largest first, with the predicted IoU and the chips decoded."""
        item = sources.get(source_id)
        crs = norm_crs(body.crs) if body.crs else item.source.crs
        prompts = PromptSet(crs)
        for p in body.points:
            prompts = prompts.add_point(p.x, p.y, p.label)
        if body.box is not None:
            prompts = prompts.with_box(body.box)
        vector = VectorOptions(mode=body.vectorize, max_polygon_only=body.max_polygon_only)
        with item.lock:
            result = Segmenter(item.source, vector).segment(prompts)
        polygons = reproject(list(result.polygons), result.crs, crs)
        return {"type": "FeatureCollection", "crs": crs_label(crs), "score": result.score,
                "chips": list(result.chip_ids),
                "features": [{"type": "Feature", "geometry": mapping(p),
                              "properties": {"area": p.area}} for p in polygons]}

    return app


def describe(source_id: str, item: Opened) -> dict:
    source = item.source
    encoded = isinstance(source, EncodedSource)
    return {
        "id": source_id, "path": item.path, "name": source.name, "model": source.model_id,
        "mode": "pre-encoded" if encoded else "live", "crs": crs_label(source.crs),
        "crs_wkt": source.crs.to_wkt(), "extent": list(source.grid.bounds),
        "chips": len(source.chips), "encoded": len(source.folder.records) if encoded else None,
    }
