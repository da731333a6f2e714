"""The Encoder Copilot: the page's choices as encode settings for a raster, the plan of that
encoding, and the measured cost of a chip, kept per model, device, batch size, dtype and precision."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..errors import PathNotFoundError
from ..estimate import ChipCost, EncodeEstimate, measure_chip_cost
from ..features.storage import is_url
from ..geo import ChipGrid
from ..models import get_spec
from ..planning import plan_chips, plan_encoding
from ..raster import RasterSource, ReadSpec
from ..settings import EncodeSettings, copilot_settings
from .bodies import EncodeRequest, PlanRequest
from .roots import Roots


def open_raster(roots: Roots, path: str) -> RasterSource:
    """The raster at `path` under `roots` (a URL under a URL root), open (use it as a context
    manager)."""
    if is_url(path):
        return RasterSource(roots.resolve_url(path))
    resolved = roots.resolve(path)
    if not resolved.is_file():
        raise PathNotFoundError(f"no such file '{path}'; choose a raster to encode")
    return RasterSource(resolved)


def settings_for(body: EncodeRequest, raster: RasterSource, device: str) -> EncodeSettings:
    """The request as encode settings for `raster` on `device`, by the Copilot's rules in
    `samscape.settings` (the scale becomes a resolution in the raster's own CRS, the overlap a
    stride)."""
    return copilot_settings(
        raster.grid, body.model, overlap=body.overlap, resolution_scale=body.resolution_scale,
        extent=body.extent, extent_crs=body.extent_crs, bands=tuple(body.bands) if body.bands else None,
        value_range=body.value_range, percentiles=body.percentiles, batch_size=body.batch_size,
        device=device,
    )


@dataclass(frozen=True)
class CopilotPlan:
    """An encoding as planned: its settings, how pixels are read, the chip grid, and the estimate
    (None until a chip cost was measured for its model, device, batch size and dtype)."""

    settings: EncodeSettings
    read_spec: ReadSpec
    chips: ChipGrid
    estimate: EncodeEstimate | None


class ChipCosts:
    """Measured chip costs by (model, device, batch size, dtype, precision), for the server's
    life; one measurement runs at a time. A batch size of "auto" is chosen as `encode` chooses it
    (`planning.start_encoding`), once per model and device."""

    def __init__(self) -> None:
        self._costs: dict[tuple, ChipCost] = {}
        self._measuring = threading.Lock()

    def plan(self, raster: RasterSource, body: PlanRequest, device: str) -> CopilotPlan:
        """Plan the encoding `body` asks of the open `raster` (the grid without loading the model:
        its input size is in the catalogue); measure its chip cost first if `body.measure`."""
        settings = settings_for(body, raster, device)
        spec, chips = plan_chips(raster, settings, get_spec(body.model).input_size)
        key = (settings.model, settings.device, settings.batch_size, settings.dtype,
               settings.mixed_precision)
        if body.measure and key not in self._costs:
            with self._measuring:
                if key not in self._costs:
                    self._costs[key] = measure_chip_cost(raster, plan_encoding(raster, settings), settings)
        cost = self._costs.get(key)
        return CopilotPlan(settings, spec, chips, None if cost is None else EncodeEstimate(len(chips), cost))
