"""The chip-encoding loop (samscape/chiploop.py): several reader and writer threads give the same
folder as one of each, a chip is reported only once its file is written, an interrupted or failed
run resumes to the same folder, and no reader, writer, temporary file or raster handle outlives
the loop."""

from __future__ import annotations

import os
import subprocess
import threading
from contextlib import closing
from pathlib import Path

import geopandas
import numpy as np
import pytest
import torch
from conftest import mount_tmpfs

from samscape.chiploop import WRITERS, BatchDone, StageSeconds, default_readers, encode_chips
from samscape.errors import FolderWriteError
from samscape.features import FeatureFolder, chip_relpath, prepare_folder
from samscape.planning import plan_encoding
from samscape.raster import RasterSource
from samscape.settings import settings_with

TINY = "tiny-random-sam"
BATCH = 2


def readers_alive() -> int:
    return sum(t.name.startswith("samscape-reader-") and t.is_alive() for t in threading.enumerate())


def writers_alive() -> int:
    return sum(t.name.startswith("samscape-writer") and t.is_alive() for t in threading.enumerate())


def temporaries(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")]


def handles_on(path: Path) -> int:
    """Open file descriptors of this process on `path`."""
    fds = Path("/proc/self/fd")
    count = 0
    for fd in os.listdir(fds):
        try:
            count += os.readlink(fds / fd) == str(path)
        except OSError:
            continue
    return count


def encode_with(raster: Path, out: Path, readers: int, stop_after: int | None = None,
                writers: int | None = None, seen: list[BatchDone] | None = None) -> int:
    """Encode what `out` lacks through `encode_chips` with `readers` readers and `writers` writers,
    closing the loop after `stop_after` batches if given; returns the batches run. Each batch
    yielded is checked to hold only chips whose files are written, and is added to `seen`."""
    with RasterSource(raster) as source:
        plan = plan_encoding(source, settings_with(None, model=TINY, batch_size=BATCH))
        state = prepare_folder(out, plan.metadata, False)
        done = set(state.records) | state.skipped
        todo = [chip for chip in plan.chips if chip.chip_id not in done]
        batches = 0
        try:
            with closing(encode_chips(source, plan, todo, BATCH, state, readers=readers,
                                      writers=writers)) as loop:
                for batch in loop:
                    batches += 1
                    for chip in batch.encoded:
                        assert (out / chip_relpath(chip.chip_id)).is_file()
                        assert chip.chip_id in state.records
                    if seen is not None:
                        seen.append(batch)
                    if stop_after is not None:
                        assert readers_alive() == readers
                        if batches == stop_after:
                            break
        finally:
            state.flush()
            assert handles_on(raster) == 1  # the source's own handle only
            assert writers_alive() == 0 and temporaries(out) == []
    assert readers_alive() == 0 and handles_on(raster) == 0
    return batches


def make_scene(make_raster) -> Path:
    data = np.random.default_rng(0).integers(1, 256, (3, 1000, 900), dtype=np.uint8)
    data[:, :300, :300] = 0  # the top-left chip all nodata
    return make_raster(data=data, nodata=0, tiled=True, blockxsize=128, blockysize=128)


def assert_same_folder(a: Path, b: Path) -> None:
    fa, fb = FeatureFolder.open(a), FeatureFolder.open(b)
    assert sorted(fa.records) == sorted(fb.records) and not fa.problems()
    assert fa.metadata.skipped_chip_ids == fb.metadata.skipped_chip_ids == (0,)
    ma = geopandas.read_parquet(a / "manifest.parquet").sort_values("chip_id").reset_index(drop=True)
    mb = geopandas.read_parquet(b / "manifest.parquet").sort_values("chip_id").reset_index(drop=True)
    assert ma.drop(columns="geometry").equals(mb.drop(columns="geometry"))
    assert ma.geometry.equals(mb.geometry)
    for chip_id in fa.records:
        x, y = fa.load_chip(chip_id), fb.load_chip(chip_id)
        assert x.keys() == y.keys()
        for name in x:
            assert torch.equal(x[name], y[name]), (chip_id, name)


def test_several_readers_write_the_folder_one_reader_writes(make_raster, tmp_path):
    raster = make_scene(make_raster)
    encode_with(raster, tmp_path / "one", readers=1)
    encode_with(raster, tmp_path / "four", readers=4)
    assert len(FeatureFolder.open(tmp_path / "one").records) == 7 * 7 - 1
    assert_same_folder(tmp_path / "four", tmp_path / "one")


def test_several_writers_write_the_folder_one_writer_writes(make_raster, tmp_path):
    raster = make_scene(make_raster)
    seen: list[BatchDone] = []
    encode_with(raster, tmp_path / "one", readers=1, writers=1)
    encode_with(raster, tmp_path / "three", readers=2, writers=3, seen=seen)
    assert_same_folder(tmp_path / "three", tmp_path / "one")
    # every chip reported once, in batches of the loop's size, the nodata chip with its batch
    assert sorted(c.chip_id for b in seen for c in b.encoded) == list(range(1, 7 * 7))
    assert [c.chip_id for b in seen for c in b.nodata] == [0]
    assert all(len(b.encoded) == BATCH for b in seen[:-1])


def test_batches_carry_each_stage_busy_seconds(make_raster, tmp_path):
    raster = make_scene(make_raster)
    seen: list[BatchDone] = []
    encode_with(raster, tmp_path / "ff", readers=2, seen=seen)
    for batch in seen:
        assert batch.encoded and batch.stages.read > 0
        assert all(v > 0 for v in batch.stages.as_dict().values()), batch.stages
        assert batch.seconds >= batch.stages.upload + batch.stages.model + batch.stages.download
    total = sum((b.stages for b in seen), StageSeconds())
    assert total.write == pytest.approx(sum(b.stages.write for b in seen))
    assert WRITERS == 2


def test_an_interrupted_multi_reader_run_resumes_to_the_same_folder(make_raster, tmp_path):
    raster = make_scene(make_raster)
    assert encode_with(raster, tmp_path / "cut", readers=3, stop_after=3, writers=3) == 3
    partial = FeatureFolder.open(tmp_path / "cut")
    assert 0 < len(partial.records) < 7 * 7 - 1
    encode_with(raster, tmp_path / "cut", readers=2)
    encode_with(raster, tmp_path / "clean", readers=1)
    assert_same_folder(tmp_path / "cut", tmp_path / "clean")


def test_readers_default_to_one_per_core_at_most_eight():
    assert [default_readers(n) for n in (1, 2, 4, 16, 64)] == [1, 2, 4, 8, 8]


def test_a_write_error_is_raised_from_the_loop_and_the_run_resumes_to_the_same_folder(make_raster, tmp_path):
    """A real full disk (a 300 KiB tmpfs: the manifest and about a dozen chip files fit)."""
    raster = make_scene(make_raster)
    out = tmp_path / "small"
    out.mkdir()
    unmount = mount_tmpfs(out, "size=300k")
    try:
        with RasterSource(raster) as source:
            plan = plan_encoding(source, settings_with(None, model=TINY, batch_size=BATCH))
            state = prepare_folder(out, plan.metadata, False)
            reported = 0
            with pytest.raises(FolderWriteError, match="cannot write the feature folder.*free some space"):
                for batch in encode_chips(source, plan, list(plan.chips), BATCH, state, readers=2,
                                          writers=3):
                    reported += len(batch.encoded)
            assert writers_alive() == 0 and readers_alive() == 0 and handles_on(raster) == 1
        assert temporaries(out) == []
        files = list((out / "features").glob("chip_*.pt"))
        assert 0 < reported <= len(files) < 7 * 7 - 1
        subprocess.run(["mount", "-o", "remount,size=4m", str(out)], check=True)
        encode_with(raster, out, readers=2, writers=3)
        encode_with(raster, tmp_path / "clean", readers=1, writers=1)
        assert_same_folder(out, tmp_path / "clean")
    finally:
        unmount()
