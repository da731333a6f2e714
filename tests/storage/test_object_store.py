"""Feature folders in an S3 store (moto on loopback): encode into s3://, then info, segment and the
server from it give what a local folder gives; chips come from the local cache the second time;
a killed encode resumes; a missing bucket or wrong credentials are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from fastapi.testclient import TestClient

from samscape.cli.main import cli
from samscape.features import FeatureFolder
from samscape.features.storage import open_store
from samscape.serve import Roots, create_app

from .conftest import BUCKET, aws_env, fresh_filesystems, start_moto

TINY = "tiny-random-sam"
ENCODE = [sys.executable, "-m", "samscape.cli.main", "encode"]


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, err: str) -> str:
    assert code != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def same_chips(a: str | Path, b: str | Path) -> None:
    """The two folders hold the same chip ids with bitwise equal tensors."""
    left, right = FeatureFolder.open(a), FeatureFolder.open(b)
    assert sorted(left.records) == sorted(right.records) and len(left.records) > 0
    for chip_id in left.records:
        x, y = left.load_chip(chip_id), right.load_chip(chip_id)
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def comparable(features: list[dict]) -> list[dict]:
    """The polygons and their properties, less those that name the run (id, time)."""
    drop = {"group_id", "created"}
    return [{**f, "properties": {k: v for k, v in f.get("properties", {}).items() if k not in drop}}
            for f in features]


def segment(source: str | Path, point: tuple[float, float], out: Path) -> list[dict]:
    code, text, err = run("segment", source, "--point", f"{point[0]},{point[1]}", "--out", out,
                          "--json", "--quiet")
    assert code == 0, err
    return comparable(json.loads(text)["features"])


@pytest.fixture
def encoded(make_raster, tmp_path: Path, prefix: str) -> tuple[str, Path, Path]:
    """The same raster encoded into `prefix`/ff and into a local folder: (url, local, raster)."""
    raster = make_raster()
    url, local = f"{prefix}/ff", tmp_path / "ff"
    for target in (url, local):
        code, _, err = run("encode", raster, target, "--model", TINY, "--quiet", "--json")
        assert code == 0, err
    return url, local, raster


def test_encode_to_s3_then_info_and_segment_equal_local_and_reuse_the_cache(encoded, s3, tmp_path,
                                                                          monkeypatch):
    url, local, _ = encoded
    key = url.removeprefix("s3://") + "/features/chip_"
    start = s3.requests("GET", key)
    same_chips(url, local)
    assert s3.requests("GET", key) > start
    infos = []
    for folder in (url, local):
        code, text, err = run("info", folder, "--json", "--validate")
        assert code == 0, err
        infos.append(json.loads(text))
    assert infos[0]["path"] == url and infos[0]["problems"] == {}
    assert infos[0]["size_bytes"] > 0
    for name in ("path", "created", "size_bytes"):
        infos[0].pop(name), infos[1].pop(name)
    assert infos[0] == infos[1]

    xmin, ymin, xmax, ymax = infos[1]["extent"]
    point = ((xmin + xmax) / 2, (ymin + ymax) / 2)
    expected = segment(local, point, tmp_path / "local.geojson")
    monkeypatch.setenv("SAMSCAPE_HOME", str(tmp_path / "empty-home"))  # an empty chip cache
    before = s3.requests("GET", key)
    assert segment(url, point, tmp_path / "s3.geojson") == expected and expected
    fetched = s3.requests("GET", key)
    assert fetched > before
    assert segment(url, point, tmp_path / "again.geojson") == expected
    assert s3.requests("GET", key) == fetched  # every chip from the local cache


def test_server_opens_s3_folders_only_under_a_url_root(encoded, tmp_path):
    url, local, _ = encoded
    prefix = url.rsplit("/", 1)[0]
    info = FeatureFolder.open(local).summary()
    xmin, ymin, xmax, ymax = info["extent"]
    body = {"points": [{"x": (xmin + xmax) / 2, "y": (ymin + ymax) / 2, "label": 1}]}
    results = []
    for roots, path in ((Roots.of(tmp_path), str(local)), (Roots.of(tmp_path, prefix), url),
                        (Roots.of(tmp_path, any_url=True), url)):
        client = TestClient(create_app(roots), base_url="http://127.0.0.1")
        opened = client.post("/api/sources", json={"path": path})
        assert opened.status_code == 201, opened.text
        assert opened.json()["path"] == path
        answer = client.post(f"/api/sources/{opened.json()['id']}/segment", json=body)
        assert answer.status_code == 200, answer.text
        results.append(comparable(answer.json()["features"]))
    assert results[0] and results[0] == results[1] == results[2]

    client = TestClient(create_app(Roots.of(tmp_path)), base_url="http://127.0.0.1")
    refused = client.post("/api/sources", json={"path": url})
    assert refused.status_code == 403 and "--allow-url-sources" in refused.json()["detail"]
    escape = TestClient(create_app(Roots.of(tmp_path, prefix)), base_url="http://127.0.0.1")
    for path in (f"{prefix}/../other/ff", f"s3://{BUCKET}/other/ff"):
        assert escape.post("/api/sources", json={"path": path}).status_code == 403
    missing = escape.post("/api/sources", json={"path": f"{prefix}/missing"})
    assert missing.status_code == 400 and "not a feature folder" in missing.json()["detail"]


def test_a_killed_encode_into_s3_resumes_to_the_same_folder(make_raster, tmp_path, prefix):
    raster = make_raster(width=900, height=700)
    url, local = f"{prefix}/ff", tmp_path / "ff"
    flags = ["--model", TINY, "--batch-size", "1"]
    proc = subprocess.Popen([*ENCODE, str(raster), url, *flags, "--progress-json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if json.loads(line).get("done", 0) >= 3:
                break
        proc.kill()
    finally:
        proc.wait(30)
    results = []
    for target in (url, local):
        code, text, err = run("encode", raster, target, *flags, "--quiet", "--json")
        assert code == 0, err
        results.append(json.loads(text))
    again, whole = results
    assert again["already_done"] > 0 and again["encoded"] + again["already_done"] == whole["encoded"]
    resumed = json.loads(run("info", url, "--json")[1])
    assert resumed["complete"] and resumed["chip_count"] == whole["encoded"]
    same_chips(url, local)
    store = open_store(url)
    assert set(store.children()) <= {"manifest.parquet", "features"}
    assert all(n.startswith("chip_") and n.endswith(".pt") for n in store.names("features"))


def test_resume_keeps_chips_written_before_the_kill(make_raster, prefix):
    """The killed test above cannot tell when the kill lands; here the chips of a first run are
    in the store and its manifest lists none (as after a kill before the first flush)."""
    from samscape.features.manifest import MANIFEST, read_rows, write_manifest

    raster = make_raster()
    url = f"{prefix}/ff"
    assert run("encode", raster, url, "--model", TINY, "--quiet")[0] == 0
    metadata, _ = read_rows(url)
    write_manifest(url, metadata.model_copy(update={"skipped_chip_ids": ()}), [])
    open_store(url).write("features/chip_000000.pt", b"not a chip")
    assert open_store(url).exists(MANIFEST)
    code, text, err = run("encode", raster, url, "--model", TINY, "--quiet", "--json")
    assert code == 0, err
    result = json.loads(text)
    assert result["already_done"] == result["grid_chip_count"] - 1 and result["encoded"] == 1
    assert run("info", url, "--validate")[0] == 0


@pytest.mark.slow
def test_dask_workers_encode_into_s3_what_a_local_run_writes(make_raster, tmp_path, prefix):
    """Two local Dask workers write their chips straight into the store (credentials and endpoint
    from the environment they inherit); the client writes the manifest."""
    raster = make_raster()
    url = f"{prefix}/cluster-ff"
    code, text, err = run("encode", raster, url, "--model", TINY, "--quiet", "--json", "--cluster", "local:2")
    assert code == 0, err
    assert json.loads(text)["workers"] == 2
    code, _, err = run("encode", raster, tmp_path / "ff", "--model", TINY, "--quiet")
    assert code == 0, err
    same_chips(url, tmp_path / "ff")


def test_missing_bucket_and_missing_prefix_are_one_line(make_raster, prefix, tmp_path):
    raster = make_raster()
    err = one_line_error(*run("encode", raster, "s3://no-such-bucket-x/ff", "--model", TINY)[::2])
    assert "no-such-bucket-x" in err and "does not exist" in err
    err = one_line_error(*run("info", "s3://no-such-bucket-x/ff")[::2])
    assert "s3://no-such-bucket-x/ff" in err and "does not exist" in err
    err = one_line_error(*run("info", f"{prefix}/nothing")[::2])
    assert "not a feature folder" in err
    err = one_line_error(*run("segment", f"{prefix}/nothing", "--point", "1,2", "--out",
                              tmp_path / "x.geojson")[::2])
    assert "not a feature folder" in err


def test_wrong_credentials_are_one_line(make_raster, tmp_path, monkeypatch):
    """A second moto server that checks credentials: an unknown key is refused."""
    process, server = start_moto(tmp_path, INITIAL_NO_AUTH_ACTION_COUNT="0")
    try:
        for name, value in aws_env(server.endpoint, key="AKIAWRONGKEY").items():
            monkeypatch.setenv(name, value)
        fresh_filesystems()
        err = one_line_error(*run("info", f"s3://{BUCKET}/ff")[::2])
        assert "credentials" in err and f"s3://{BUCKET}/ff" in err
        err = one_line_error(*run("encode", make_raster(), f"s3://{BUCKET}/ff", "--model", TINY)[::2])
        assert "credentials" in err
    finally:
        fresh_filesystems()
        process.terminate()
        process.wait(10)


def test_a_url_whose_backend_is_missing_names_the_extra():
    code = ("import sys; sys.modules['s3fs'] = None; from samscape.cli.main import main; "
            "sys.argv = ['samscape', 'info', 's3://bucket/ff']; main()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    err = one_line_error(done.returncode, done.stderr)
    assert "s3fs" in err and "samscape[cloud]" in err
