"""The API's routes by resource, all under /api; each reaches the server's state through the
`Server` dependency (`app.state.server`)."""

from . import copilot, files, jobs, models, server, sessions, sources, tiles

ROUTERS = (server.router, models.router, files.router, sources.router, tiles.router, sessions.router,
           copilot.router, jobs.router)

__all__ = ["ROUTERS"]
