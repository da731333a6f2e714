"""Ids of a server's sources, sessions and jobs."""

from __future__ import annotations

import secrets
from collections.abc import Container


def new_id(taken: Container[str]) -> str:
    """A random id (8 hex digits) not in `taken`: a client still holding the ids of an earlier run
    of the server reaches nothing, not another client's source, session or job."""
    while (new := secrets.token_hex(4)) in taken:
        pass
    return new
