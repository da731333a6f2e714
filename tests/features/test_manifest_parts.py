"""The manifest written in parts: a folder flushed many times reads, and ends, as one written at
once; a kill during a flush leaves a readable manifest; resume trusts the chips it records."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import samscape
from samscape.cli.main import cli
from samscape.errors import FeatureFolderError
from samscape.features import ChipRecord, FeatureFolder, GridRecord, prepare_folder, write_manifest
from samscape.features.manifest import MANIFEST_KEY, PARTS_DIR, read_rows
from samscape.geo import ChipGrid

TINY = "tiny-random-sam"


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-chip folder of the tiny model: its metadata is the template of larger ones."""
    import rasterio
    from affine import Affine
    from conftest import scene

    root = tmp_path_factory.mktemp("parts")
    with rasterio.open(root / "one.tif", "w", driver="GTiff", width=256, height=256, count=3,
                       dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 4000000)) as ds:
        ds.write(scene(256, 256))
    samscape.encode(str(root / "one.tif"), root / "one", model=TINY, progress=False)
    return root / "one"


def large(seed: Path, per_side: int):
    """The seed's metadata on a grid of per_side² chips, and that chip grid."""
    meta = FeatureFolder.open(seed).metadata
    size = meta.preprocessing.chip_size
    side = size // 2 * (per_side - 1) + size
    grid = GridRecord.model_validate({**meta.preprocessing.grid.model_dump(), "width": side,
                                      "height": side})
    chips = ChipGrid(grid.to_grid(), size, size // 2)
    pre = meta.preprocessing.model_copy(update={"grid": grid})
    return meta.model_copy(update={"preprocessing": pre, "grid_chip_count": len(chips)}), chips


def parts_of(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / PARTS_DIR).glob("*.parquet")) if (folder / PARTS_DIR).is_dir() \
        else []


def test_a_folder_flushed_many_times_equals_one_written_at_once(seed, tmp_path):
    meta, chips = large(seed, 30)
    state = prepare_folder(tmp_path / "a", meta, False)
    order = np.random.default_rng(1).permutation(len(chips)).tolist()
    written: list[int] = []
    skipped: set[int] = set()
    for flush in range(1, 41):
        for chip_id in order[(flush - 1) * 20:flush * 20]:
            if chip_id % 7 == 0:
                state.skipped.add(chip_id)
                skipped.add(chip_id)
            else:
                state.records[chip_id] = ChipRecord.from_chip(chips.chip(chip_id))
                written.append(chip_id)
        state.flush(append=True)
        got_meta, rows = read_rows(tmp_path / "a")
        assert list(rows) == sorted(written) and got_meta.skipped_chip_ids == tuple(sorted(skipped))
        assert 1 <= len(parts_of(tmp_path / "a")) <= math.log2(flush) + 1
    whole = meta.model_copy(update={"skipped_chip_ids": tuple(sorted(skipped)),
                                    "created": state.metadata.created})
    (tmp_path / "b").mkdir()
    write_manifest(tmp_path / "b", whole, [ChipRecord.from_chip(chips.chip(i)) for i in written])
    (a_meta, a_rows), (b_meta, b_rows) = read_rows(tmp_path / "a"), read_rows(tmp_path / "b")
    assert a_meta == b_meta and dict(a_rows.items()) == dict(b_rows.items()) and not a_rows.unusual
    state.flush()  # the end of an encoding: the whole manifest in one file
    assert not (tmp_path / "a" / PARTS_DIR).exists()
    a, b = (pq.read_table(tmp_path / f / "manifest.parquet") for f in "ab")
    assert a.replace_schema_metadata(None).equals(b.replace_schema_metadata(None))
    for key in (b"geo", b"samscape"):
        assert a.schema.metadata[key] == b.schema.metadata[key]


KILLED_WRITER = """
import sys
from pathlib import Path
from samscape.features import ChipRecord, prepare_folder
from samscape.features.manifest import read_rows
folder = Path(sys.argv[1])
meta, _ = read_rows(folder)
state = prepare_folder(folder, meta, False)
chips = state.records.chips
for chip_id in range(len(chips)):
    if chip_id in state.records:
        continue
    (folder / "features" / f"chip_{chip_id:06d}.pt").write_bytes(b"not yet a chip")
    state.records[chip_id] = ChipRecord.from_chip(chips.chip(chip_id))
    if chip_id % 3 == 0:
        state.flush(append=True)
        print(chip_id, flush=True)
"""


def test_a_kill_during_flushes_leaves_a_readable_manifest(seed, tmp_path):
    meta, chips = large(seed, 40)
    folder = tmp_path / "killed"
    prepare_folder(folder, meta, False)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    rng = np.random.default_rng(0)
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, str(script), str(folder)], stdout=subprocess.PIPE,
                                text=True, env={**os.environ})
        assert proc.stdout is not None
        proc.stdout.readline()  # flushing from now on
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        _, rows = read_rows(folder)
        files = {int(p.name[5:11]) for p in (folder / "features").glob("chip_*.pt")}
        assert set(rows) <= files and list(rows) == list(range(len(rows)))
        state = prepare_folder(folder, meta, False)  # resume: recorded kept, unrecorded not chips
        assert sorted(state.records) == list(rows)
    state.flush()
    assert sorted(p.name for p in folder.iterdir()) == ["features", "manifest.parquet"]
    assert not [p for p in (folder / "features").iterdir() if p.name.startswith(".")]
    assert list(read_rows(folder)[1]) == sorted(state.records) and len(state.records) > 0


def test_resume_verifies_only_chips_the_manifest_does_not_record(make_raster, tmp_path):
    raster = str(make_raster())
    samscape.encode(raster, tmp_path / "ff", model=TINY, progress=False)
    meta, rows = read_rows(tmp_path / "ff")
    write_manifest(tmp_path / "ff", meta, [rows[i] for i in range(6)])  # killed after a flush of 6
    features = tmp_path / "ff" / "features"
    recorded, unrecorded = features / "chip_000001.pt", features / "chip_000008.pt"
    damaged = recorded.read_bytes()[:100]
    recorded.write_bytes(damaged)
    unrecorded.write_bytes(unrecorded.read_bytes()[:100])
    kept = {p.name: p.stat().st_mtime_ns for p in features.iterdir() if p != unrecorded}
    resumed = samscape.encode(raster, tmp_path / "ff", model=TINY, progress=False)
    assert resumed.encoded == 1 and resumed.already_done == 11  # chip 8, found corrupt
    assert recorded.read_bytes() == damaged  # trusted, not loaded
    assert {p.name: p.stat().st_mtime_ns for p in features.iterdir() if p != unrecorded} == kept
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "ff"), "--validate"])
    assert result.exit_code == 1 and "chip 1 of" in result.stderr and "corrupt" in result.stderr


def test_older_folders_without_parts_open_and_stale_parts_are_ignored(make_raster, tmp_path):
    raster = str(make_raster())
    samscape.encode(raster, tmp_path / "ff", model=TINY, progress=False)
    path = tmp_path / "ff" / "manifest.parquet"
    table = pq.read_table(path)
    before = {k: v for k, v in table.schema.metadata.items() if k != MANIFEST_KEY}
    pq.write_table(table.replace_schema_metadata(before), path)  # as samscape wrote it before
    stale = tmp_path / "ff" / PARTS_DIR
    stale.mkdir()
    part = table.slice(0, 2).replace_schema_metadata({MANIFEST_KEY: json.dumps(
        {"token": "0" * 16, "first": 1, "last": 1, "skipped_chip_ids": [3]}).encode()})
    pq.write_table(part, stale / f"{'0' * 16}-00000001-00000001.parquet")
    folder = FeatureFolder.open(tmp_path / "ff")
    assert sorted(folder.records) == list(range(12)) and folder.metadata.skipped_chip_ids == ()
    assert not folder.problems()
    again = samscape.encode(raster, tmp_path / "ff", model=TINY, progress=False)
    assert again.encoded == 0 and again.already_done == 12
    assert not stale.exists()  # the resumed run rewrote the manifest and dropped the stale part


def test_a_row_the_grid_cannot_have_is_refused_when_opened(make_raster, tmp_path):
    samscape.encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    path = tmp_path / "ff" / "manifest.parquet"
    table = pq.read_table(path)
    ids = table.column("chip_id").to_pylist()
    ids[3] = ids[2]
    table = table.set_column(0, "chip_id", pa.array(ids, "int64"))
    pq.write_table(table, path)
    with pytest.raises(FeatureFolderError, match="lists chip 2 twice"):
        FeatureFolder.open(tmp_path / "ff")


def test_rows_that_differ_from_their_grid_are_kept_as_written(make_raster, tmp_path):
    samscape.encode(str(make_raster()), tmp_path / "ff", model=TINY, progress=False)
    path = tmp_path / "ff" / "manifest.parquet"
    table = pq.read_table(path)
    paths = table.column("feature_path").to_pylist()
    paths[4] = "features/elsewhere.pt"
    pq.write_table(table.set_column(1, "feature_path", pa.array(paths)), path)
    folder = FeatureFolder.open(tmp_path / "ff")
    assert folder.records[4].feature_path == "features/elsewhere.pt"
    assert folder.records[5].feature_path == "features/chip_000005.pt"
    assert "missing" in folder.problems()[4]


def test_vectorised_rows_equal_the_records_of_each_chip(seed, tmp_path):
    import shapely

    from samscape.features.records import rows_table

    meta, chips = large(seed, 7)
    ids = np.arange(len(chips))
    fast = rows_table(chips, ids)
    (tmp_path / "slow").mkdir()
    write_manifest(tmp_path / "slow", meta, [ChipRecord.from_chip(c) for c in chips])
    slow = pq.read_table(tmp_path / "slow" / "manifest.parquet").replace_schema_metadata(None)
    assert fast.equals(slow)
    boxes = shapely.from_wkb(fast.column("geometry").to_pylist())
    assert all(b.equals(shapely.box(*ChipRecord.from_chip(c).bounds)) for b, c in zip(boxes, chips,
                                                                                        strict=True))


@pytest.mark.slow
def test_a_killed_encoding_that_flushed_parts_resumes_to_the_same_folder(make_raster, tmp_path):
    import torch

    raster = str(make_raster(width=1600, height=1600))
    code = ("import sys, samscape.encoder as e; e.MANIFEST_FLUSH_SECONDS = 0.0; "
            "from samscape.cli.main import cli; cli(sys.argv[1:])")
    proc = subprocess.Popen([sys.executable, "-c", code, "encode", raster, str(tmp_path / "killed"),
                             "--model", TINY, "--batch-size", "1", "--quiet"], stderr=subprocess.PIPE)
    features = tmp_path / "killed" / "features"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if features.is_dir() and len(list(features.glob("chip_*.pt"))) >= 20:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert parts_of(tmp_path / "killed"), "the run must be killed while its manifest is in parts"
    recorded = len(read_rows(tmp_path / "killed")[1])
    assert 0 < recorded < 144
    resumed = samscape.encode(raster, tmp_path / "killed", model=TINY, batch_size=1, progress=False)
    assert resumed.already_done >= recorded and resumed.encoded == 144 - resumed.already_done
    samscape.encode(raster, tmp_path / "clean", model=TINY, batch_size=1, progress=False)
    killed, clean = (pq.read_table(tmp_path / f / "manifest.parquet") for f in ("killed", "clean"))
    assert killed.replace_schema_metadata(None).equals(clean.replace_schema_metadata(None))
    assert not (tmp_path / "killed" / PARTS_DIR).exists()
    a, b = FeatureFolder.open(tmp_path / "killed"), FeatureFolder.open(tmp_path / "clean")
    for chip_id in (0, 77, 143):
        assert torch.equal(a.load_chip(chip_id)["image_embeddings"], b.load_chip(chip_id)["image_embeddings"])


def test_a_reader_sees_a_whole_number_of_flushes_while_parts_merge(seed, tmp_path):
    import threading

    meta, chips = large(seed, 30)
    state = prepare_folder(tmp_path / "ff", meta, False)
    seen: list[int] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                ids = list(read_rows(tmp_path / "ff")[1])
                if ids != list(range(len(ids))) or len(ids) % 5:
                    raise AssertionError(f"a reader saw part of a flush: {ids[-10:]}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return
            seen.append(len(ids))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for chip_id in range(len(chips)):
            state.records[chip_id] = ChipRecord.from_chip(chips.chip(chip_id))
            if chip_id % 5 == 4:
                state.flush(append=True)
    finally:
        done.set()
        reader.join()
    assert not failures, failures
    assert len(set(seen)) > 3
