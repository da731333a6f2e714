"""URLs to GDAL paths, the URL a folder records, and the settings remote reads use."""

from __future__ import annotations

import pytest

from samscape.raster.remote import cloud_options, gdal_path, is_remote, public_url, remote_name
from samscape.sources.live import default_cache_dir


@pytest.mark.parametrize(("given", "vsi", "url"), [
    ("https://h.org/a/scene.tif", "/vsicurl/https://h.org/a/scene.tif", "https://h.org/a/scene.tif"),
    ("HTTP://u:p@h.org:8080/s.tif?sig=1#x", "/vsicurl/HTTP://u:p@h.org:8080/s.tif?sig=1#x",
     "http://h.org:8080/s.tif"),
    ("s3://bucket/dir/scene.tif", "/vsis3/bucket/dir/scene.tif", "s3://bucket/dir/scene.tif"),
    ("/vsis3/bucket/k.tif", "/vsis3/bucket/k.tif", "s3://bucket/k.tif"),
    ("/vsicurl/https://h.org/k.tif?t=2", "/vsicurl/https://h.org/k.tif?t=2", "https://h.org/k.tif"),
    ("/data/scene.tif", "/data/scene.tif", None),
    ("scene.tif", "scene.tif", None),
])
def test_paths(given, vsi, url) -> None:
    assert gdal_path(given) == vsi
    assert public_url(given) == url
    assert is_remote(given) is (url is not None)


def test_names_and_options(monkeypatch) -> None:
    assert remote_name("https://h.org/a/scene.tif?sig=1") == "scene.tif"
    assert default_cache_dir("https://h.org/get?sig=secret", "ab" * 16).name == "get-" + "ab" * 8
    options = cloud_options("https://h.org/a/scene.tif")
    assert options["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"
    assert options["GDAL_HTTP_MERGE_CONSECUTIVE_RANGES"] == "YES"
    assert options["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"] == ".tif"
    assert "CPL_VSIL_CURL_ALLOWED_EXTENSIONS" not in cloud_options("https://h.org/get?id=3")
    monkeypatch.setenv("VSI_CACHE_SIZE", "1000")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    options = cloud_options("s3://b/k.tif")
    assert "VSI_CACHE_SIZE" not in options, "the user's own setting wins"
    assert (options["AWS_S3_ENDPOINT"], options["AWS_HTTPS"]) == ("127.0.0.1:9000", "NO")
