"""Background jobs (encodings, model downloads): their progress and how they ended."""

from __future__ import annotations

from fastapi import APIRouter

from ..depends import Server
from ..wording import page_words

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("/{job_id}")
def job(job_id: str, server: Server) -> dict:
    """A job's progress; `error` (in the page's words) once it failed."""
    state = server.jobs.get(job_id).to_json()
    if state["error"]:
        state["error"] = page_words(state["error"])
    return state
