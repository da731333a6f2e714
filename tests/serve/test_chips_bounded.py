"""The chip listing stays small on a large folder: no polygons past 5000 chips unless a bbox
narrows it, and the encoded count comes without listing."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from samscape.features import ChipRecord, FeatureFolder, GridRecord, write_manifest
from samscape.geo import ChipGrid
from samscape.serve import Roots, create_app


def large_folder(template: Path, out: Path, per_side: int) -> ChipGrid:
    """`template`'s metadata on a grid of `per_side`² 256² chips at stride 128; every other chip
    recorded (no chip files: the listing never reads them)."""
    meta = FeatureFolder.open(template).metadata
    side = 128 * (per_side - 1) + 256
    grid = GridRecord.model_validate({**meta.preprocessing.grid.model_dump(), "width": side, "height": side})
    pre = meta.preprocessing.model_copy(update={"grid": grid})
    chips = ChipGrid(grid.to_grid(), 256, 128)
    meta = meta.model_copy(update={"preprocessing": pre, "grid_chip_count": len(chips)})
    (out / "features").mkdir(parents=True)
    write_manifest(out, meta, [ChipRecord.from_chip(c) for c in chips if c.chip_id % 2 == 0])
    return chips


def test_a_large_grid_lists_no_polygons_but_a_bbox_lists_its_chips(demo_root_768, tmp_path) -> None:
    chips = large_folder(demo_root_768 / "features", tmp_path / "big", 80)
    assert len(chips) == 6400
    client = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    info = client.post("/api/sources", json={"path": str(tmp_path / "big")}).json()
    assert info["encoded"] == 3200
    whole = client.get(f"/api/sources/{info['id']}/chips").json()
    assert (whole["chips"], whole["encoded"], whole["left_out"], whole["features"]) == (6400, 3200, 6400, [])
    xmin, ymin, xmax, ymax = chips.chip(0).footprint.bounds
    part = client.get(f"/api/sources/{info['id']}/chips",
                      params={"bbox": f"{xmin},{ymax - 1},{xmin + 1},{ymax}"}).json()
    listed = {f["properties"]["id"]: f["properties"]["encoded"] for f in part["features"]}
    assert listed == {0: True} and part["left_out"] == 0 and part["encoded"] == 3200
