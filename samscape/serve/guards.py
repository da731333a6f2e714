"""What every request passes before the API sees it: a Host the server serves (no DNS rebinding),
writes only from the server's own origin (no cross-site requests), and a bounded body.

A pure ASGI middleware, so a refused body is never read into memory past the limit and a refused
request never reaches a route. Refusals are SamscapeErrors; the API's one table gives their status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from ..errors import BodyTooLargeError, HostNotAllowedError, OriginNotAllowedError, SamscapeError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 1024 * 1024  # bytes; the largest prompt set (200 points) is under 20 kB
MAX_DRAIN = 64 * MAX_BODY  # a refused body up to this size is read and dropped so the client sees 413
WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})


def host_name(value: str) -> str | None:
    """The name in a Host header ('localhost:8765' → 'localhost', '[::1]:80' → '::1'), lower
    case; None when the value is not a host with an optional numeric port."""
    value = value.strip().lower()
    if value.startswith("["):
        name, bracket, port = value[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and port[1:].isdigit())):
            return None
        return name
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    return name or None


class Guard:
    """Wraps an ASGI app. `hosts`: the names a Host header may give (any port), None for any
    (a wildcard bind, where the token guards); `status`: the HTTP status of a SamscapeError."""

    def __init__(self, app, hosts: Iterable[str] | None, status: Callable[[SamscapeError], int],
                 max_body: int = MAX_BODY) -> None:
        self.app = app
        self.hosts = None if hosts is None else frozenset(host_name(h) or h.lower() for h in hosts)
        self.status = status
        self.max_body = max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self.check_host(headers.get("host"))
            self.check_origin(scope, headers)
            body = await self.read_body(headers, receive)
        except SamscapeError as exc:
            await self.refuse(send, exc)
            return
        if body is None:  # the client left
            return
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def check_host(self, host: str | None) -> None:
        if self.hosts is not None and (host is None or host_name(host) not in self.hosts):
            allowed = ", ".join(sorted(self.hosts))
            shown = "a request without a Host header" if host is None else f"Host {host[:200]!r}"
            raise HostNotAllowedError(f"this server does not serve {shown}; open it as one of "
                                      f"{allowed} (a web page naming another host is refused)")

    def check_origin(self, scope, headers: dict[str, str]) -> None:
        """A browser sends Origin with every write; it must be this server's own (its scheme and
        Host). Writes without Origin come from scripts, not pages, and pass."""
        origin = headers.get("origin")
        if scope["method"] not in WRITES or origin is None:
            return
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        if origin.strip().lower() != own:
            raise OriginNotAllowedError(f"{scope['method']} from Origin {origin[:200]!r} refused: this "
                                        f"server takes writes only from its own page ({own})")

    async def read_body(self, headers: dict[str, str], receive) -> bytes | None:
        """The whole body, at most `max_body` bytes (a declared length over it is refused before
        anything is read; a chunked one as soon as it passes); None if the client disconnected."""
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            if int(declared) <= MAX_DRAIN:
                await self.drain(receive, 0)
            raise self.too_large(int(declared))
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self.drain(receive, size)
                raise self.too_large(None)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def drain(self, receive, size: int) -> None:
        """Read and drop the rest of a refused body (up to MAX_DRAIN), so the client, still
        sending, reads the refusal instead of a reset connection."""
        while size <= MAX_DRAIN:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            size += len(message.get("body", b""))

    def too_large(self, declared: int | None) -> BodyTooLargeError:
        size = "a chunked body" if declared is None else f"a body of {declared} bytes"
        return BodyTooLargeError(f"{size} is over this server's limit of {self.max_body // MAX_BODY} MB "
                                 f"({self.max_body} bytes); send smaller requests")

    async def refuse(self, send, exc: SamscapeError) -> None:
        body = json.dumps({"detail": str(exc)}).encode()
        await send({"type": "http.response.start", "status": self.status(exc), "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
