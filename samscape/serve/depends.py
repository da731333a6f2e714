"""What routes take from the app through FastAPI dependencies: the server's state (kept as
`app.state.server`), and the token check every /api call passes."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request

from .state import ServerState


def server_state(request: Request) -> ServerState:
    return request.app.state.server


Server = Annotated[ServerState, Depends(server_state)]


def authorised(request: Request, authorization: Annotated[str | None, Header()] = None,
               token_query: Annotated[str | None, Query(alias="token")] = None) -> None:
    """With a server token, the call must send `Authorization: Bearer <token>` (or `?token=`)."""
    token = server_state(request).token
    if token is None:
        return
    given = token_query or (authorization or "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "missing or wrong token: use the one 'samscape serve' printed")
