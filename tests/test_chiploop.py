"""The chip-encoding loop's readers (samscape/chiploop.py): several reader threads give the same
folder as one, an interrupted run resumes to it, and no reader or raster handle outlives the loop."""

from __future__ import annotations

import os
import threading
from contextlib import closing
from pathlib import Path

import geopandas
import numpy as np
import torch

from samscape.chiploop import default_readers, encode_chips
from samscape.features import FeatureFolder, prepare_folder
from samscape.planning import plan_encoding
from samscape.raster import RasterSource
from samscape.settings import settings_with

TINY = "tiny-random-sam"
BATCH = 2


def readers_alive() -> int:
    return sum(t.name.startswith("samscape-reader-") and t.is_alive() for t in threading.enumerate())


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


def encode_with(raster: Path, out: Path, readers: int, stop_after: int | None = None) -> int:
    """Encode what `out` lacks through `encode_chips` with `readers` readers, closing the loop
    after `stop_after` batches if given; returns the batches run."""
    with RasterSource(raster) as source:
        plan = plan_encoding(source, settings_with(None, model=TINY, batch_size=BATCH))
        state = prepare_folder(out, plan.metadata, False)
        done = set(state.records) | state.skipped
        todo = [chip for chip in plan.chips if chip.chip_id not in done]
        batches = 0
        with closing(encode_chips(source, plan, todo, BATCH, state, readers=readers)) as loop:
            for _ in loop:
                batches += 1
                if stop_after is not None:
                    assert readers_alive() == readers
                    if batches == stop_after:
                        break
        state.flush()
        assert handles_on(raster) == 1  # the source's own handle only
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


def test_an_interrupted_multi_reader_run_resumes_to_the_same_folder(make_raster, tmp_path):
    raster = make_scene(make_raster)
    assert encode_with(raster, tmp_path / "cut", readers=3, stop_after=3) == 3
    partial = FeatureFolder.open(tmp_path / "cut")
    assert 0 < len(partial.records) < 7 * 7 - 1
    encode_with(raster, tmp_path / "cut", readers=2)
    encode_with(raster, tmp_path / "clean", readers=1)
    assert_same_folder(tmp_path / "cut", tmp_path / "clean")


def test_readers_default_to_one_per_core_at_most_eight():
    assert [default_readers(n) for n in (1, 2, 4, 16, 64)] == [1, 2, 4, 8, 8]
