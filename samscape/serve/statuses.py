"""Where errors become HTTP: the one table from error class to status, and its handlers.

A user mistake (a SamscapeError) is a 4xx whose `detail` is its message on one line in the
page's words; an invalid request body is 422 with pydantic's messages. Each class in STATUSES
gets its own handler; an error takes the status of its most specific class in the table (the
first in its MRO, as Starlette picks a handler), never an order of the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ..errors import (
    BodyTooLargeError,
    HostNotAllowedError,
    MissingModelError,
    NotFoundError,
    OriginNotAllowedError,
    PathNotAllowedError,
    PathNotFoundError,
    SamscapeError,
    UnknownModelError,
)
from .wording import page_field, page_words

STATUSES: dict[type[SamscapeError], int] = {
    SamscapeError: 400,
    HostNotAllowedError: 400,
    PathNotAllowedError: 403,
    OriginNotAllowedError: 403,
    NotFoundError: 404,
    PathNotFoundError: 404,
    UnknownModelError: 404,
    BodyTooLargeError: 413,
}


def status_of(exc: SamscapeError) -> int:
    """The status of `exc`: that of its most specific class in STATUSES (for the guards, which
    answer before the handlers are reached)."""
    return next(STATUSES[cls] for cls in type(exc).__mro__ if cls in STATUSES)


def user_error(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler answering a SamscapeError with `status` and its one-line page message (and,
    for a feature folder whose model is not on this machine, that model's id as `missing_model`)."""

    async def handler(request: Request, exc: Exception) -> JSONResponse:
        body = {"detail": page_words(str(exc))}
        if isinstance(exc, MissingModelError) and exc.model_id:
            body["missing_model"] = exc.model_id
        return JSONResponse(body, status_code=status)

    return handler


async def invalid_body(request: Request, exc: Exception) -> JSONResponse:
    """Pydantic's messages without the offending input (a NaN would not serialise); `detail`
    names the first invalid field."""
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
              for e in cast(RequestValidationError, exc).errors()]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    problem = _NOT_AN_OBJECT.get(str(first.get("type")))
    if problem is not None:
        detail = f"body: {problem}; send a JSON object with Content-Type: application/json"
    else:
        where = [str(part) for part in first["loc"][1:]  # not a union member's tag
                 if isinstance(part, int) or str(part).isidentifier()] or ["body"]
        field = page_field(where[0])
        detail = f"{'.'.join(where)}{f' ({field})' if field else ''}: {first['msg']}"
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)


_NOT_AN_OBJECT = {"json_invalid": "not valid JSON", "model_attributes_type": "not a JSON object"}
_UNPARSED = "There was an error parsing the body"  # FastAPI's, when json.loads fails otherwise


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's answer, in our words for a body JSON cannot read (a number of thousands of
    digits, nesting thousands deep)."""
    if isinstance(exc, HTTPException) and exc.status_code == 400 and exc.detail == _UNPARSED:
        return JSONResponse({"detail": "body: not JSON samscape can read (a number too long, or "
                                       "nesting too deep); send a plain JSON object"}, status_code=400)
    return await http_exception_handler(request, cast(HTTPException, exc))


def add_error_handlers(app: FastAPI) -> None:
    """One handler per class in STATUSES, and the 422 handler for invalid bodies."""
    for cls, status in STATUSES.items():
        app.add_exception_handler(cls, user_error(status))
    app.add_exception_handler(RequestValidationError, invalid_body)
    app.add_exception_handler(HTTPException, http_error)
