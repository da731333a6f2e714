"""The server reads a URL raster only under a URL root it was started with (--root URL), or any
with --allow-url-sources: never an open proxy."""

from __future__ import annotations

import pytest
from conftest import finished_job
from fastapi.testclient import TestClient

from samscape.errors import PathNotAllowedError
from samscape.serve import Roots, create_app

from .conftest import EXTENT, MODEL


def test_urls_are_refused_unless_under_an_allowed_prefix(tmp_path) -> None:
    roots = Roots.of(tmp_path)
    with pytest.raises(PathNotAllowedError, match="--root"):
        roots.resolve_url("https://h.org/data/a.tif")
    allowed = Roots.of(tmp_path, "https://h.org/data", "s3://bucket/")
    assert allowed.resolve_url("https://h.org/data/a.tif?sig=1") == "https://h.org/data/a.tif?sig=1"
    assert allowed.resolve_url("s3://bucket/x/b.tif") == "s3://bucket/x/b.tif"
    assert allowed.resolve(tmp_path) == tmp_path.resolve()
    for url in ("https://h.org/data-private/a.tif", "https://h.org/data/../secret/a.tif",
                "https://h.org/data/%2e%2e/secret/a.tif", "https://other.org/data/a.tif",
                "s3://bucket2/a.tif"):
        with pytest.raises(PathNotAllowedError):
            allowed.resolve_url(url)
    with pytest.raises(PathNotAllowedError):
        allowed.resolve("/vsicurl/https://h.org/elsewhere.tif")


def test_a_client_opens_a_url_raster_live_only_where_allowed(http_server, tmp_path) -> None:
    url = f"{http_server.url}/cog.tif"
    http_server.served.reset()
    closed = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    answer = closed.post("/api/sources", json={"path": url + "?fresh=refused", "model": MODEL})
    assert answer.status_code == 403 and "--root" in answer.json()["detail"]
    assert http_server.served.requests == {}, "a refused URL is never fetched"
    open_ = TestClient(create_app(Roots.of(tmp_path, http_server.url + "/")),
                       base_url="http://127.0.0.1")
    answer = open_.post("/api/sources", json={"path": url + "?sig=secret", "model": MODEL})
    assert answer.status_code in (200, 201), answer.text
    info = answer.json()
    assert info["path"] == info["raster"] == url and info["mode"] == "live"
    tile = open_.get(f"/api/sources/{info['id']}/tiles/0/0/0.png")
    assert tile.status_code == 200 and tile.content.startswith(b"\x89PNG")


def test_a_folder_encoded_from_a_url_shows_its_raster_where_the_url_is_allowed(
        encoded_pair, http_server) -> None:
    remote, _, _ = encoded_pair
    roots = Roots.of(remote.parent)
    url = f"{http_server.url}/cog.tif"
    for allowed, raster in ((roots, None), (Roots.of(remote.parent, http_server.url), url)):
        client = TestClient(create_app(allowed), base_url="http://127.0.0.1")
        answer = client.post("/api/sources", json={"path": str(remote)})
        assert answer.status_code in (200, 201), answer.text
        assert answer.json()["raster"] == raster


def test_the_copilot_plans_and_encodes_a_url_raster_only_where_allowed(http_server, tmp_path) -> None:
    url = f"{http_server.url}/cog.tif"
    body = {"raster": url, "model": MODEL, "extent": [float(v) for v in EXTENT.split(",")]}
    closed = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    answer = closed.post("/api/copilot/plan", json=body)
    assert answer.status_code == 403 and "--root" in answer.json()["detail"]
    client = TestClient(create_app(Roots.of(tmp_path, http_server.url)), base_url="http://127.0.0.1")
    plan = client.post("/api/copilot/plan", json=body)
    assert plan.status_code == 200, plan.text
    started = client.post("/api/jobs/encode", json={**body, "out": "from-url"})
    assert started.status_code == 202, started.text
    job = finished_job(client, started.json())
    assert job["state"] == "done" and job["encoded"] == plan.json()["chips"] > 0, job
    refused = client.post("/api/jobs/encode", json={**body, "out": "s3://elsewhere/ff"})
    assert refused.status_code == 403 and "--root" in refused.json()["detail"]
