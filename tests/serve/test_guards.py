"""What guards a server on loopback from web pages and large bodies: the Host header (DNS
rebinding), the Origin of writes (cross-site requests), the body size, and no page that needs
the internet. Against real servers on loopback."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from samscape.serve import Roots, create_app

from .conftest import Served

MB = 1024 * 1024


def _refused(response: httpx.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert words in detail and "\n" not in detail, detail


def test_only_hosts_naming_the_bound_address_are_answered(served: Served) -> None:
    port = served.port
    for host in (f"127.0.0.1:{port}", "127.0.0.1", f"localhost:{port}", "LocalHost", f"[::1]:{port}",
                 "[::1]"):
        assert served.http.get("/api/health", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}",
                 "localhost.evil.example", "127.0.0.2", "[::2]:80", "::1", "", "local host"):
        for path in ("/api/health", "/api/browse", "/"):
            _refused(served.http.get(path, headers={"Host": host}), 400, "Host")


def test_the_host_given_to_serve_is_answered_too(small_root: Path) -> None:
    with Served(create_app(Roots.of(small_root), hosts=("127.0.0.1", "samscape.lan"))) as served:
        assert served.http.get("/api/health", headers={"Host": "samscape.lan:8765"}).status_code == 200
        assert served.http.get("/api/health").status_code == 200
        _refused(served.http.get("/api/health", headers={"Host": "localhost"}), 400, "Host")
    with Served(create_app(Roots.of(small_root), hosts=None)) as served:  # a wildcard bind: the token guards
        assert served.http.get("/api/health", headers={"Host": "10.1.2.3:8765"}).status_code == 200


def test_writes_from_another_origin_are_refused(served: Served) -> None:
    http, own = served.http, served.url
    before = len(http.get("/api/sources").json()["sources"])
    for origin in ("http://evil.example", f"http://localhost:{served.port}", "null",
                   f"https://127.0.0.1:{served.port}", "http://127.0.0.1"):
        _refused(http.post("/api/sources", json={"path": "features"}, headers={"Origin": origin}),
                 403, "Origin")
    assert len(http.get("/api/sources").json()["sources"]) == before  # nothing was opened
    opened = http.post("/api/sources", json={"path": "features"}, headers={"Origin": own})
    assert opened.status_code == 201, opened.text
    source = opened.json()["id"]
    evil = {"Origin": "http://evil.example"}
    _refused(http.delete(f"/api/sources/{source}", headers=evil), 403, "Origin")
    session = http.post("/api/sessions", json={"source": source}).json()["id"]  # no Origin: a script
    _refused(http.put(f"/api/sessions/{session}/output", json={"path": "o.gpkg"}, headers=evil),
             403, "Origin")
    _refused(http.patch(f"/api/sessions/{session}", headers=evil), 403, "Origin")
    assert http.get(f"/api/sources/{source}", headers=evil).status_code == 200  # a read changes nothing
    assert http.delete(f"/api/sources/{source}", headers={"Origin": own}).status_code == 204


def test_bodies_over_1_mb_are_refused_before_parsing(served: Served) -> None:
    http = served.http
    big = b'{"path": "' + b"x" * (2 * MB) + b'"}'
    _refused(http.post("/api/sources", content=big, headers={"Content-Type": "application/json"}),
             413, "1 MB")

    def chunks():
        yield b'{"path": "'
        for _ in range(32):
            yield b"x" * (64 * 1024)
        yield b'"}'

    chunked = http.post("/api/sources", content=chunks(), headers={"Content-Type": "application/json"})
    _refused(chunked, 413, "1 MB")
    small = b'{"path": "' + b"x" * (MB // 2) + b'"}'
    assert http.post("/api/sources", content=small,
                     headers={"Content-Type": "application/json"}).status_code == 422  # parsed
    assert http.get("/api/health").status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_no_page_needs_the_internet(served: Served, page: str) -> None:
    assert served.http.get(page).status_code == 404
    assert "/api/sources" in served.http.get("/openapi.json").json()["paths"]
    html = served.http.get("/").text
    assert "app.js" in html
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.IGNORECASE)
