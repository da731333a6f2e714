"""Rasters read over HTTP(S) and S3: a URL mapped to GDAL's /vsicurl/ or /vsis3/ path, the cloud
settings GDAL reads it with, the form of it a folder records, and one-line errors."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import rasterio
from rasterio.session import DummySession

log = logging.getLogger(__name__)

SCHEMES = {"http": "/vsicurl/", "https": "/vsicurl/", "s3": "/vsis3/"}
"""URL schemes read remotely, and the GDAL virtual file system each maps to."""
VSI_PREFIXES = ("/vsicurl/", "/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/", "/vsioss/", "/vsiswift/")
CACHE_BYTES = 64 * 2**20
"""VSI_CACHE_SIZE: the bytes of a remote file GDAL keeps per open handle."""
CONNECT_SECONDS = 10
SUFFIXES = (".tif", ".tiff", ".vrt", ".jp2")

CLOUD_OPTIONS: dict[str, str] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "VSI_CACHE": "TRUE",
    "VSI_CACHE_SIZE": str(CACHE_BYTES),
    "GDAL_HTTP_CONNECTTIMEOUT": str(CONNECT_SECONDS),
    "GDAL_HTTP_TIMEOUT": "60",
    "GDAL_HTTP_MAX_RETRY": "2",
    "GDAL_HTTP_RETRY_DELAY": "1",
}
"""GDAL settings for remote reads: no directory listing on open, merged and multiplexed range
requests, a bounded per-file cache, a short connect timeout and few retries. One the user set in
the environment wins."""

_warned: set[str] = set()
_warned_lock = threading.Lock()


def is_remote(path: str | os.PathLike) -> bool:
    """Whether `path` is a URL or a GDAL network path (/vsicurl/, /vsis3/, ...)."""
    text = os.fspath(path)
    return isinstance(text, str) and (urlsplit(text).scheme.lower() in SCHEMES
                                      or text.startswith(VSI_PREFIXES))


def gdal_path(path: str | os.PathLike) -> str:
    """The path GDAL opens for `path`: https://h/a.tif → /vsicurl/https://h/a.tif, s3://b/k →
    /vsis3/b/k; anything else (a local path, a /vsi path) as given."""
    text = os.fspath(path)
    if not isinstance(text, str):
        return os.fsdecode(text)
    scheme = urlsplit(text).scheme.lower()
    if scheme == "s3":
        return SCHEMES[scheme] + text.split("://", 1)[1]
    if scheme in SCHEMES:
        return SCHEMES[scheme] + text
    return text


def public_url(path: str | os.PathLike) -> str | None:
    """The URL a folder records for a remote `path`: s3://bucket/key or http(s)://host/path, with
    no query, fragment or user:password (they may carry credentials or signatures); None for a
    local path."""
    text = os.fspath(path)
    if not isinstance(text, str) or not is_remote(text):
        return None
    if text.startswith("/vsis3/"):
        text = "s3://" + text.removeprefix("/vsis3/")
    elif text.startswith("/vsicurl/"):
        text = text.removeprefix("/vsicurl/")
    elif text.startswith(VSI_PREFIXES):
        return text.split("?", 1)[0]
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path, "", ""))


def remote_name(path: str) -> str:
    """The file name of a remote `path`: its last path segment, no query."""
    url = public_url(path) or path
    return urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or url


def cloud_options(path: str) -> dict[str, str]:
    """`CLOUD_OPTIONS` less those set in the environment, plus for s3 an endpoint from
    AWS_ENDPOINT_URL(_S3) (as boto3 reads it) when GDAL's AWS_S3_ENDPOINT is not set, and
    CPL_VSIL_CURL_ALLOWED_EXTENSIONS limited to the raster's own suffix when it has a known one
    (so GDAL never probes .ovr/.msk/.aux.xml sidecars)."""
    options = {k: v for k, v in CLOUD_OPTIONS.items() if k not in os.environ}
    suffix = os.path.splitext(urlsplit(public_url(path) or "").path)[1]
    if suffix.lower() in SUFFIXES and "CPL_VSIL_CURL_ALLOWED_EXTENSIONS" not in os.environ:
        options["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"] = suffix
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if gdal_path(path).startswith("/vsis3/") and endpoint and "AWS_S3_ENDPOINT" not in os.environ:
        parts = urlsplit(endpoint)
        options["AWS_S3_ENDPOINT"] = parts.netloc + parts.path.rstrip("/")
        options["AWS_HTTPS"] = "YES" if parts.scheme == "https" else "NO"
        options.setdefault("AWS_VIRTUAL_HOSTING", os.environ.get("AWS_VIRTUAL_HOSTING", "FALSE"))
    return options


@contextlib.contextmanager
def gdal_env(path: str) -> Iterator[None]:
    """GDAL settings for reading `path` on this thread (in a rasterio.Env, so they hold for
    samscape's reads only): `cloud_options` for a remote path; for a GeoPackage, no .aux.xml files
    (GDAL writes one beside it per zoom level an overview read touches; a GeoPackage keeps its
    own metadata); nothing for another local raster."""
    if is_remote(path):
        with rasterio.Env(session=DummySession(), **cloud_options(path)):
            yield
    elif str(path).lower().endswith(".gpkg"):
        with rasterio.Env(GDAL_PAM_ENABLED="NO"):
            yield
    else:
        yield


def warn_slow(path: str, why: str) -> None:
    """Log once per raster that reading remote `path` will be slow, and `why`."""
    url = public_url(path) or path
    with _warned_lock:
        if url in _warned:
            return
        _warned.add(url)
    log.warning("remote raster '%s' %s: every chip reads much more than its own pixels, so this "
                "will be slow; make it a Cloud Optimized GeoTIFF (gdal_translate -of COG) or copy "
                "it here first", url, why)


def describe_error(path: str, message: str) -> str:
    """A one-line reason and fix for GDAL's `message` on failing to open remote `path`."""
    url = public_url(path) or path
    message = message.replace(gdal_path(path), url).replace(path, url)
    text = message.replace(url, "").lower()
    codes = set(re.findall(r"(?:code|status)\s*:?\s*(\d{3})\b", text))
    missing = ("nosuchkey", "nosuchbucket", "specified key", "specified bucket")
    if "404" in codes or any(s in text for s in missing):
        return f"remote raster '{url}' was not found (HTTP 404); check the URL"
    if codes & {"401", "403"} or any(s in text for s in (
            "accessdenied", "access denied", "invalidaccesskeyid", "signaturedoesnotmatch",
            "aws_secret_access_key", "credentials")):
        return (f"access to remote raster '{url}' was denied; check the credentials "
                "(AWS_ACCESS_KEY_ID / AWS_PROFILE / ~/.aws) or that the URL is public")
    if "range downloading not supported" in text:
        return (f"the server of remote raster '{url}' does not send parts of files (HTTP Range "
                "requests), which reading a remote raster needs; download it and give the local copy")
    if any(s in text for s in ("refused", "could not connect", "couldn't connect")):
        return (f"the host of remote raster '{url}' refused the connection; check the URL (its port) "
                "and that the server runs")
    if any(s in text for s in ("connect", "resolve host", "timed out", "timeout")):
        return (f"cannot reach the host of remote raster '{url}' (no answer within "
                f"{CONNECT_SECONDS} s); check the URL and the network")
    if "does not exist in the file system" in text:  # GDAL's answer once a first try failed
        return (f"remote raster '{url}' was not found or its host did not answer; check the URL "
                "and the network")
    if "not recognized" in text or "not a supported" in text or "supported file format" in text:
        return f"'{url}' is not a raster GDAL reads; give the URL of a GeoTIFF (best a COG)"
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return f"cannot open remote raster '{url}': {first}; check the URL and that GDAL reads it"
