"""The HTTP API app: browse the allowed roots, open sources, segment prompts in map coordinates.

Every route lives under /api (routes by resource in `routers/`); errors become statuses in
`statuses.py`. The browser app is served at /.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from .. import __version__
from .depends import authorised
from .guards import LOOPBACK_HOSTS, Guard
from .roots import Roots
from .routers import ROUTERS
from .state import ServerState, Sources
from .statuses import add_error_handlers, status_of

STATIC = Path(__file__).parent / "static"
mimetypes.add_type("text/javascript", ".js")  # module scripts need it; a registry may say text/plain


def create_app(roots: Roots, token: str | None = None, sources: Sources | None = None,
               hosts: Iterable[str] | None = LOOPBACK_HOSTS) -> FastAPI:
    """The API over `roots` and `sources` (default: none open yet). With a `token`, every /api
    call must send `Authorization: Bearer <token>` (or `?token=`). `hosts`: the names a request's
    Host header may give (None: any, for a wildcard bind guarded by the token)."""
    app = FastAPI(title="samscape", version=__version__, dependencies=[Depends(authorised)],
                  docs_url=None, redoc_url=None)  # Swagger UI and ReDoc need a CDN: /openapi.json
    app.state.server = ServerState(roots, sources, token)
    app.add_middleware(Guard, hosts=hosts, status=status_of)
    for router in ROUTERS:
        app.include_router(router)
    add_error_handlers(app)
    if STATIC.is_dir():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="app")
    return app
