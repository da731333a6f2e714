"""A real S3-compatible server on loopback (moto in server mode, a subprocess) and the AWS_*
environment that points the store's usual configuration at it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

BUCKET = "samscape-test"


@dataclass(frozen=True)
class S3Server:
    """A moto server: its endpoint and the log of the requests it served (one line each)."""

    endpoint: str
    log: Path

    def requests(self, method: str, key_part: str) -> int:
        """How many `method` requests for a key holding `key_part` the server has answered."""
        lines = self.log.read_text(errors="replace").splitlines()
        return sum(f'"{method} ' in line and key_part in line for line in lines)


def start_moto(folder: Path, **env: str) -> tuple[subprocess.Popen, S3Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = folder / "moto.log"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT,
                               env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.05)
    return process, S3Server(f"http://127.0.0.1:{port}", log)


def aws_env(endpoint: str, key: str = "testing") -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A moto S3 server holding the bucket BUCKET."""
    import boto3

    process, server = start_moto(tmp_path_factory.mktemp("moto"))
    try:
        boto3.client("s3", aws_access_key_id="testing", aws_secret_access_key="testing",
                     region_name="us-east-1", endpoint_url=server.endpoint).create_bucket(Bucket=BUCKET)
        yield server
    finally:
        process.terminate()
        process.wait(10)


def fresh_filesystems() -> None:
    """Forget fsspec's S3 file systems, so the next one reads the environment again."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """The server, with the AWS_* environment pointing at it (for this process and its children)."""
    for name, value in aws_env(s3_server.endpoint).items():
        monkeypatch.setenv(name, value)
    fresh_filesystems()
    yield s3_server
    fresh_filesystems()


@pytest.fixture
def prefix(s3: S3Server) -> str:
    """A fresh URL prefix in the bucket."""
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"
