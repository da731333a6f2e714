"""Remote rasters over HTTP: a COG served with Range requests encodes and segments live exactly
as the local file does, reading only a small part of it; failures are one-line errors."""

from __future__ import annotations

import functools
import logging
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import rasterio
import torch
from click.testing import CliRunner

from samscape import FeatureFolder
from samscape.cli.main import cli
from samscape.errors import RasterReadError
from samscape.features import find_raster
from samscape.raster import RasterSource
from samscape.segment import PromptSet, Segmenter
from samscape.sources import open_source

from .conftest import EXTENT, MODEL


def test_encode_from_a_url_equals_the_local_file_and_reads_a_small_part(encoded_pair, http_server,
                                                                        http_folder) -> None:
    remote, local, served = encoded_pair
    a, b = FeatureFolder.open(remote), FeatureFolder.open(local)
    assert set(a.records) == set(b.records) and len(a.records) > 1
    for chip_id in a.records:
        got, want = a.load_chip(chip_id), b.load_chip(chip_id)
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want)
    pa, pb = a.metadata.preprocessing, b.metadata.preprocessing
    assert pa.source_name == pb.source_name == "cog.tif"
    assert (pa.grid, pa.value_range, pa.bands) == (pb.grid, pb.value_range, pb.bands)
    assert pa.source_url == f"{http_server.url}/cog.tif", "recorded without its query string"
    assert pb.source_url is None
    assert "secret" not in (remote / "manifest.json").read_text(errors="replace") if \
        (remote / "manifest.json").exists() else True
    size = (http_folder / "cog.tif").stat().st_size
    print(f"served {served} of {size} bytes ({served / size:.1%}) for a 512² px extent")
    assert 0 < served < 0.25 * size, f"served {served} of {size} bytes"


def test_the_recorded_url_finds_the_raster_again(encoded_pair, http_server) -> None:
    remote, _, _ = encoded_pair
    meta = FeatureFolder.open(remote).metadata
    assert find_raster(remote, meta) is None, "URLs are read only where a caller allows them"
    assert find_raster(remote, meta, resolve_url=str) == f"{http_server.url}/cog.tif"


def test_fingerprint_of_a_remote_raster_reads_a_few_blocks(http_server, http_folder) -> None:
    http_server.served.reset()
    url = f"{http_server.url}/cog.tif?fresh=fingerprint"  # GDAL caches per URL: none of it cached
    with RasterSource(url) as raster:
        first = raster.fingerprint()
        assert raster.name == "cog.tif" and raster.remote
    with RasterSource(url) as raster:
        assert raster.fingerprint() == first
    assert http_server.served.bytes["cog.tif"] < 0.1 * (http_folder / "cog.tif").stat().st_size


def test_live_mode_from_a_url_gives_the_polygons_of_the_local_file(http_server, http_folder,
                                                                   tmp_path) -> None:
    url, local = f"{http_server.url}/cog.tif", http_folder / "cog.tif"
    with open_source(url, MODEL, extent=EXTENT, cache_dir=tmp_path / "a") as live_url, \
            open_source(str(local), MODEL, extent=EXTENT, cache_dir=tmp_path / "b") as live_local:
        assert live_url.grid == live_local.grid
        t = live_url.grid.transform
        prompts = PromptSet(live_url.crs).add_point(*(t @ (200.5, 300.5)))
        got = Segmenter(live_url, max_chips=4).segment(prompts)
        want = Segmenter(live_local, max_chips=4).segment(prompts)
    np.testing.assert_array_equal(got.mask, want.mask)
    assert got.polygons and [p.wkb for p in got.polygons] == [p.wkb for p in want.polygons]


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("name", "needle"), [
    ("missing.tif", "was not found (HTTP 404)"),
    ("notes.txt", "is not a raster GDAL reads"),
    ("private.tif", "was denied; check the credentials"),
    (None, "refused the connection; check the URL (its port)"),
])
def test_remote_failures_are_one_line_errors(http_server, tmp_path, name, needle) -> None:
    url = f"{http_server.url}/{name}?sig=secret" if name else f"http://127.0.0.1:{_refused_port()}/a.tif"
    result = CliRunner().invoke(cli, ["encode", url, str(tmp_path / "out"), "--model", MODEL])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code != 0
    assert len(lines) == 1 and lines[0].startswith("samscape: error: ") and needle in lines[0], lines
    assert "secret" not in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_web_server_is_no_place_to_encode_into_nor_a_bucket(http_server, make_raster, tmp_path) -> None:
    raster = str(make_raster())
    for args, needle in ((["encode", raster, f"{http_server.url}/ff", "--model", MODEL],
                          "is on a web server, which samscape only reads"),
                         (["info", f"{http_server.url}/nothing"], "is not a feature folder")):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code != 0 and needle in result.stderr and "bucket" not in result.stderr


def test_a_server_without_range_requests_is_named(http_folder, tmp_path) -> None:
    class WholeFiles(SimpleHTTPRequestHandler):  # python's server ignores Range headers
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(WholeFiles, directory=str(http_folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cog.tif"
        result = CliRunner().invoke(cli, ["encode", url, str(tmp_path / "out"), "--model", MODEL])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code != 0 and "does not send parts of files (HTTP Range requests)" in result.stderr
    assert "download it and give the local copy" in result.stderr and not (tmp_path / "out").exists()


def test_a_striped_remote_raster_works_but_is_warned_about_once(http_server, http_folder,
                                                                make_raster, caplog) -> None:
    path = make_raster("striped.tif", width=1200, height=300, count=1)
    (http_folder / "striped.tif").write_bytes(path.read_bytes())
    with rasterio.open(path) as ds:
        assert ds.block_shapes[0][1] == ds.width
    with caplog.at_level(logging.WARNING, logger="samscape.raster.remote"):
        for _ in range(2):
            with RasterSource(f"{http_server.url}/striped.tif") as raster:
                assert raster.fingerprint().startswith("v2:")
    warnings = [r for r in caplog.records if "striped.tif" in r.getMessage()]
    assert len(warnings) == 1 and "stored in strips" in warnings[0].getMessage()


def test_a_remote_read_error_names_the_url_without_its_query(http_server) -> None:
    with pytest.raises(RasterReadError, match="was not found") as info:
        RasterSource(f"{http_server.url}/nothing.tif?token=abc")
    assert "abc" not in str(info.value)
