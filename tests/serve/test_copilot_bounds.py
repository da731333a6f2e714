"""The Copilot plan costs nothing proportional to pixels: an absurd grid is a quick 4xx, a large
but allowed one a quick answer."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient


def _timed_plan(client: TestClient, **body) -> tuple[float, object]:
    started = time.perf_counter()
    answer = client.post("/api/copilot/plan", json={"raster": "scene.tif", "model": "demo", **body})
    return time.perf_counter() - started, answer


def test_a_tiny_resolution_scale_is_refused_quickly(client: TestClient) -> None:
    seconds, answer = _timed_plan(client, resolution_scale=0.00001)
    assert answer.status_code == 400 and seconds < 10
    detail = answer.json()["detail"]
    assert "chips" in detail and "1,000,000" in detail and "\n" not in detail


def test_a_fine_but_allowed_grid_is_planned_without_reading_every_pixel(client: TestClient) -> None:
    seconds, answer = _timed_plan(client, resolution_scale=0.02)  # 38 400² px, 90 000 chips
    assert answer.status_code == 200, answer.text
    assert answer.json()["chips"] > 50_000 and answer.json()["grid"] is None
    assert seconds < 10
