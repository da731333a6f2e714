"""s3:// rasters through GDAL's /vsis3/, against moto's S3 server on loopback: credentials and the
endpoint from the usual AWS environment variables, never recorded in the folder."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
import torch
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

import samscape
from samscape import FeatureFolder
from samscape.cli.main import cli

from .conftest import EXTENT, MODEL

BUCKET = "scenes"


@pytest.fixture(scope="module")
def s3_endpoint(http_folder) -> Iterator[str]:
    """moto's S3 on a free loopback port, holding s3://scenes/dir/cog.tif (the served COG)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    client.upload_file(str(http_folder / "cog.tif"), BUCKET, "dir/cog.tif")
    yield endpoint
    server.stop()


@pytest.fixture
def aws_env(s3_endpoint, monkeypatch) -> str:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_S3_ENDPOINT", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return s3_endpoint


def test_encode_from_s3_equals_the_local_file(aws_env, encoded_pair, tmp_path) -> None:
    _, local, _ = encoded_pair
    out = tmp_path / "from-s3"
    samscape.encode(f"s3://{BUCKET}/dir/cog.tif", out, model=MODEL, extent=EXTENT, progress=False)
    a, b = FeatureFolder.open(out), FeatureFolder.open(local)
    assert set(a.records) == set(b.records)
    for chip_id in a.records:
        got, want = a.load_chip(chip_id), b.load_chip(chip_id)
        assert all(torch.equal(got[k], want[k]) for k in want)
    assert a.metadata.preprocessing.source_url == f"s3://{BUCKET}/dir/cog.tif"
    stored = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".pt")
    assert b"testing" not in stored, "no credential is written into the folder"


@pytest.mark.parametrize(("url", "needle"), [
    (f"s3://{BUCKET}/dir/missing.tif", "was not found"),
    ("s3://no-such-bucket/cog.tif", "was not found"),
])
def test_s3_failures_are_one_line_errors(aws_env, tmp_path, url, needle) -> None:
    result = CliRunner().invoke(cli, ["encode", url, str(tmp_path / "out"), "--model", MODEL])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code != 0 and len(lines) == 1, result.stderr
    assert lines[0].startswith("samscape: error: ") and needle in lines[0], lines
