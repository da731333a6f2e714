"""The JSON the API answers with: open sources, sessions, segmentation results and layers as
GeoJSON FeatureCollections in a chosen CRS (coordinates x, y in that CRS's map units)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rasterio.crs import CRS
from shapely.geometry import mapping

from ..geo import Chip, crs_label
from ..raster.remote import public_url
from ..settings import settings_dict
from ..vector import reproject
from .copilot import CopilotPlan
from .state import LoadedSource

if TYPE_CHECKING:
    from ..segment import SavedGroup, SegmentResult, Session
    from ..vector import OutputLayer

MAX_GRID_FEATURES = 5000


def shown(path: object) -> str:
    """A path as clients see it: a URL without its query string (it may carry a signature)."""
    return public_url(str(path)) or str(path)


def source_json(source_id: str, item: LoadedSource) -> dict:
    """An open source: its path, model, the device it runs on, mode, CRS, extent, chip counts,
    preprocessing, and the raster and tile grid of its map (None when its raster was not found)."""
    source = item.source
    return {
        "id": source_id, "path": shown(item.path), "name": source.name, "model": source.model_id,
        "device": str(source.backend.device),
        "mode": source.mode, "crs": crs_label(source.crs),
        "crs_wkt": source.crs.to_wkt(), "proj4": source.crs.to_proj4(),
        "extent": list(source.grid.bounds), "chips": len(source.chips),
        "encoded": len(source.encoded_ids()),
        "bands": list(source.metadata.preprocessing.bands),
        "value_range": list(source.metadata.preprocessing.value_range),
        "raster": None if item.raster is None else shown(item.raster),
        "tiles": None if item.tiles is None else item.tiles.grid.to_json(),
    }


def chips_json(item: LoadedSource, bbox: tuple[float, float, float, float] | None = None) -> dict:
    """The chip grid as polygons in the source's CRS, those overlapping `bbox` (xmin, ymin, xmax,
    ymax in that CRS) if given; `encoded` on each tells which have features now. Past
    `MAX_GRID_FEATURES` chips no polygon is listed (`left_out` says how many were not), so the
    answer stays small at a million chips; `chips` and `encoded` count the whole grid."""
    source = item.source
    chips = source.chips
    encoded = source.encoded_ids()
    shown: Iterable[Chip] = chips
    count = len(chips)
    if bbox is not None:
        inverse = ~source.grid.transform
        (c0, r0), (c1, r1) = inverse @ (bbox[0], bbox[3]), inverse @ (bbox[2], bbox[1])
        c0, c1, r0, r1 = min(c0, c1), max(c0, c1), min(r0, r1), max(r0, r1)
        count = round(((c1 - c0) / chips.stride + 2) * ((r1 - r0) / chips.stride + 2))
        shown = chips.intersecting(c0, r0, c1, r1) if count <= MAX_GRID_FEATURES else []
    left_out = 0
    if count > MAX_GRID_FEATURES:
        shown, left_out = [], count
    return {"type": "FeatureCollection", "crs": crs_label(source.crs), "chips": len(chips),
            "encoded": len(encoded), "left_out": left_out, "features": [
                {"type": "Feature", "geometry": mapping(chip.footprint),
                 "properties": {"id": chip.chip_id, "encoded": chip.chip_id in encoded}}
                for chip in shown]}


def result_json(result: SegmentResult, crs: CRS) -> dict:
    """A result as a GeoJSON FeatureCollection in `crs`, with its score, chips and whether it
    was cut off at the chips one object may span."""
    polygons = reproject(list(result.polygons), result.crs, crs)
    return {"type": "FeatureCollection", "crs": crs_label(crs), "score": result.score,
            "chips": list(result.chip_ids), "cut_off": result.cut_off,
            "features": [{"type": "Feature", "geometry": mapping(p),
                          "properties": {"area": p.area}} for p in polygons]}


def session_json(session_id: str, session: Session) -> dict:
    """A session's prompts, current result and output layer (its file, and its layer name in a
    GeoPackage), in the session's CRS."""
    prompts, result, layer = session.prompts, session.result, session.layer
    return {
        "id": session_id, "crs": crs_label(session.crs),
        "points": [{"x": p.x, "y": p.y, "label": p.label} for p in prompts.points],
        "box": None if prompts.box is None else list(prompts.box),
        "result": None if result is None else result_json(result, session.crs),
        "output": None if layer is None else str(layer.path),
        "output_layer": None if layer is None or layer.driver != "GPKG" else layer.layer_name,
        "output_crs": None if layer is None else crs_label(layer.crs),
        "saved_groups": session.saved_groups,
    }


def group_json(group: SavedGroup, crs: CRS) -> dict:
    """The rows of one save (already in `crs`) as GeoJSON, samscape's fields as properties."""
    return {"type": "FeatureCollection", "crs": crs_label(crs), "features": [
        {"type": "Feature", "geometry": mapping(r.geometry), "properties": r.properties()}
        for r in group.rows]}


def layer_json(layer: OutputLayer, crs: CRS) -> dict:
    """Every polygon in `layer` with its properties, reprojected to `crs`."""
    rows = layer.read()
    polygons = reproject([r.geometry for r in rows], layer.crs, crs)
    return {"type": "FeatureCollection", "crs": crs_label(crs), "features": [
        {"type": "Feature", "geometry": mapping(p), "properties": r.properties()}
        for p, r in zip(polygons, rows, strict=True)]}


def plan_json(plan: CopilotPlan) -> dict:
    """A Copilot plan: chip count, size, stride, CRS, extent, bands, value range, the chip grid as
    GeoJSON (None past `MAX_GRID_FEATURES` chips), the settings file, and the estimate (or None)."""
    chips, spec, estimate = plan.chips, plan.read_spec, plan.estimate
    grid = None
    if len(chips) <= MAX_GRID_FEATURES:
        grid = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": mapping(c.footprint), "properties": {"id": c.chip_id}}
            for c in chips]}
    return {
        "chips": len(chips), "chip_size": chips.size, "stride": chips.stride,
        "crs": crs_label(chips.grid.crs), "extent": list(chips.grid.bounds),
        "bands": list(spec.bands), "value_range": [spec.value_range.low, spec.value_range.high],
        "grid": grid, "settings": settings_dict(plan.settings),
        "estimate": None if estimate is None else {
            "disk_bytes": estimate.disk_bytes, "seconds": estimate.seconds,
            "seconds_per_chip": estimate.cost.seconds, "bytes_per_chip": estimate.cost.bytes,
            "measured_chips": estimate.cost.batch_size},
    }
