"""The Encoder Copilot's routes: the chip grid and estimate of an encoding as its settings change,
and encoding as a background job (followed at /api/jobs)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter

from ...errors import PathNotFoundError
from ...features import check_target
from ...features.storage import is_url
from ...models import get_spec
from ...planning import plan_chips
from ..bodies import JobRequest, PlanRequest
from ..copilot import open_raster, settings_for
from ..depends import Server
from ..views import plan_json

router = APIRouter(prefix="/api", tags=["encoder copilot"])


@router.post("/copilot/plan")
def plan(body: PlanRequest, server: Server) -> dict:
    """The chip grid (GeoJSON in the raster's CRS, left out past 5000 chips) and the value range
    of these settings, the settings file, and, once measured for this model and batch size
    (`measure`), the estimated disk size and encoding time."""
    with open_raster(server.roots, body.raster) as raster:
        return plan_json(server.costs.plan(raster, body, server.sources.device))


@router.post("/jobs/encode", status_code=202)
def start_encoding(body: JobRequest, server: Server) -> dict:
    """Encode in the background into `out` (a new folder, or one to resume); poll the job."""
    with open_raster(server.roots, body.raster) as raster:
        settings = settings_for(body, raster, server.sources.device)
        plan_chips(raster, settings, get_spec(body.model).input_size)  # bad bands, range: 4xx now
        path = raster.path
    out: Path | str
    if is_url(body.out):  # object storage, under a URL root
        out = server.roots.resolve_url(body.out)
    else:
        out = server.roots.resolve(body.out)
        if not out.parent.is_dir():
            raise PathNotFoundError(f"no such folder '{out.parent}'; choose an existing folder")
    check_target(out)
    return server.jobs.encode(path, out, settings).to_json()
