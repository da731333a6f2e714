"""The Encoder Copilot's routes: the chip grid and estimates of an encoding as its settings change,
the settings file `samscape encode --settings` reads, and encoding as a background job."""

from __future__ import annotations

import threading

from fastapi import APIRouter
from shapely.geometry import mapping

from ..errors import PathNotFoundError
from ..estimate import ChipCost, EncodeEstimate, measure_chip_cost
from ..features import check_target
from ..geo import crs_label
from ..models import get_spec
from ..planning import plan_chips, plan_encoding
from ..raster import RasterSource
from ..settings import EncodeSettings, copilot_settings, settings_dict
from .bodies import EncodeRequest, JobRequest, PlanRequest
from .roots import Roots
from .state import Jobs
from .wording import page_words

MAX_GRID_FEATURES = 5000


def settings_for(body: EncodeRequest, raster: RasterSource) -> EncodeSettings:
    """The request as encode settings for `raster`, by the Copilot's rules in `samscape.settings`
    (the scale becomes a resolution in the raster's own CRS, the overlap a stride)."""
    return copilot_settings(
        raster.grid, body.model, overlap=body.overlap, resolution_scale=body.resolution_scale,
        extent=body.extent, bands=tuple(body.bands) if body.bands else None,
        value_range=body.value_range, percentiles=body.percentiles, batch_size=body.batch_size,
    )


def settings_file(settings: EncodeSettings) -> dict:
    """`settings` as the JSON object `samscape encode --settings` reads (flag names as keys)."""
    return settings_dict(settings)


def copilot_routes(roots: Roots, jobs: Jobs) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["encoder copilot"])
    costs: dict[tuple, ChipCost] = {}
    measuring = threading.Lock()

    def open_raster(path: str) -> RasterSource:
        resolved = roots.resolve(path)
        if not resolved.is_file():
            raise PathNotFoundError(f"no such file '{path}'; choose a raster to encode")
        return RasterSource(resolved)

    @router.post("/copilot/plan")
    def plan(body: PlanRequest) -> dict:
        """The chip grid (GeoJSON in the raster's CRS, left out past 5000 chips) and the value
        range of these settings, the settings file, and, once measured for this model and batch
        size (`measure`), the estimated disk size and encoding time."""
        with open_raster(body.raster) as raster:
            settings = settings_for(body, raster)
            spec, chips = plan_chips(raster, settings, get_spec(body.model).input_size)
            key = (settings.model, settings.device, settings.batch_size, settings.dtype)
            if body.measure and key not in costs:
                with measuring:
                    costs[key] = measure_chip_cost(raster, plan_encoding(raster, settings),
                                                   settings.batch_size)
        grid = None
        if len(chips) <= MAX_GRID_FEATURES:
            grid = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": mapping(c.footprint), "properties": {"id": c.chip_id}}
                for c in chips]}
        estimate = EncodeEstimate(len(chips), costs[key]) if key in costs else None
        return {
            "chips": len(chips), "chip_size": chips.size, "stride": chips.stride,
            "crs": crs_label(chips.grid.crs), "extent": list(chips.grid.bounds),
            "bands": list(spec.bands), "value_range": [spec.value_range.low, spec.value_range.high],
            "grid": grid, "settings": settings_file(settings),
            "estimate": None if estimate is None else {
                "disk_bytes": estimate.disk_bytes, "seconds": estimate.seconds,
                "seconds_per_chip": estimate.cost.seconds, "bytes_per_chip": estimate.cost.bytes,
                "measured_chips": estimate.cost.batch_size},
        }

    @router.post("/jobs/encode", status_code=202)
    def start_encoding(body: JobRequest) -> dict:
        """Encode in the background into `out` (a new folder, or one to resume); poll the job."""
        with open_raster(body.raster) as raster:
            settings = settings_for(body, raster)
            path = raster.path
        out = roots.resolve(body.out)
        if not out.parent.is_dir():
            raise PathNotFoundError(f"no such folder '{out.parent}'; choose an existing folder")
        check_target(out)
        return jobs.start(path, out, settings).to_json()

    @router.get("/jobs/{job_id}")
    def job(job_id: str) -> dict:
        """A job's progress; `error` (in the page's words) once it failed."""
        state = jobs.get(job_id).to_json()
        if state["error"]:
            state["error"] = page_words(state["error"])
        return state

    return router
