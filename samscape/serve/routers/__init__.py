"""The API's routes by resource, all under /api; each reaches the server's state through the
`Server` dependency (`app.state.server`)."""

from . import copilot, files, server, sessions, sources, tiles

ROUTERS = (server.router, files.router, sources.router, tiles.router, sessions.router, copilot.router)

__all__ = ["ROUTERS"]
