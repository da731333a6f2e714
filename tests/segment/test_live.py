"""Live sources: chips encoded on demand into a cache that is a feature folder, bounded on disk
and in memory; results equal to those of a pre-encoded folder."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

import samscape
from samscape import FeatureFolder, LiveSource
from samscape.errors import FeatureFolderError, FolderConflictError, PromptError, SettingsError
from samscape.features import FEATURES_DIR, read_manifest
from samscape.models import PreparedChip, load_backend
from samscape.segment import PromptSet, Segmenter
from samscape.sources import ChipCache, EncodedSource, open_source

MODEL = "tiny-random-sam"


def prompt_sets(grid, crs) -> list[PromptSet]:
    t = grid.transform
    return [
        PromptSet(crs).add_point(*(t @ (300.5, 250.5))),
        PromptSet(crs).add_point(*(t @ (40.5, 60.5))).add_point(*(t @ (50.5, 70.5)), label=0),
        PromptSet(crs).add_point(*(t @ (20.5, 20.5))).add_point(*(t @ (580.5, 480.5))),
        PromptSet(crs).with_box((*(t @ (400, 300)), *(t @ (450, 260)))),
    ]


def chip_files(folder: Path) -> set[int]:
    return {int(f.stem.removeprefix("chip_")) for f in (folder / FEATURES_DIR).glob("chip_*.pt")}


def manifest_ids(folder: Path) -> set[int]:
    return {r.chip_id for r in read_manifest(folder)[1]}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny-random-sam", "tiny-random-sam2"])
def test_live_results_equal_pre_encoded_and_the_cache_completes_to_the_same_folder(
        model, raster, encode_folder, tmp_path) -> None:
    encoded = encode_folder(raster, model=model)
    cache = tmp_path / "live-cache"
    with open_source(encoded) as pre, open_source(raster, model=model, cache_dir=cache) as live:
        assert isinstance(pre, EncodedSource) and isinstance(live, LiveSource)
        assert live.folder == cache
        assert live.grid == pre.grid and live.chips == pre.chips and live.crs == pre.crs
        assert live.missing(list(range(len(live.chips)))) == list(range(len(live.chips)))
        a, b = Segmenter(pre, max_chips=4), Segmenter(live, max_chips=4)
        for prompts in prompt_sets(pre.grid, pre.crs):
            r1, r2 = a.segment(prompts), b.segment(prompts)
            assert r1.window == r2.window
            assert r1.chip_ids == r2.chip_ids
            np.testing.assert_array_equal(r1.mask, r2.mask)
            assert r1.transform == r2.transform and r1.score == r2.score
            assert [p.wkb for p in r1.polygons] == [p.wkb for p in r2.polygons]
        done = set(live.state.records)
    assert 0 < len(done) < len(pre.chips), "live mode encodes only the chips prompts need"
    # The cache is a valid feature folder holding exactly the chips the live session encoded,
    # with the very features of the pre-encoded folder.
    folder, reference = FeatureFolder.open(cache), FeatureFolder.open(encoded)
    assert set(folder.records) == done == chip_files(cache)
    assert folder.problems() == {}
    assert folder.metadata.same_encoding(reference.metadata)
    for cid in done:
        got, want = folder.load_chip(cid), reference.load_chip(cid)
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want)
    # `encode` into the cache completes it: what live mode did counts as done.
    result = samscape.encode(str(raster), cache, model=model, progress=False)
    assert result.already_done == len(done)
    assert result.encoded == len(reference.records) - len(done)
    completed = FeatureFolder.open(cache)
    assert set(completed.records) == set(reference.records)
    assert completed.summary()["complete"]


def test_default_cache_is_one_folder_per_raster_and_settings(raster, samscape_home) -> None:
    with open_source(raster, model=MODEL) as live:
        folder = live.folder
        live.prepare([0, 3])
    assert folder.parent == samscape_home / "live"
    assert folder.name.startswith(f"{raster.stem}-") and len(folder.name) == len(raster.stem) + 17
    # The same raster and settings reuse it: nothing left to encode for those chips.
    with open_source(raster, model=MODEL) as again:
        assert again.folder == folder
        assert again.missing([0, 3, 4]) == [4]
    # Other settings get another folder.
    with open_source(raster, model=MODEL, stride=256) as other:
        assert other.folder != folder and other.folder.parent == folder.parent
        assert other.chips.stride == 256 and other.missing([0]) == [0]


def test_prepare_encodes_exactly_what_is_missing(raster, tmp_path) -> None:
    calls = []
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "c", batch_size=2,
                     progress=lambda done, total: calls.append((done, total))) as live:
        live.prepare([5, 1, 5, 7])
        assert set(live.state.records) == {1, 5, 7} == manifest_ids(live.folder)
        assert calls[0] == (0, 3) and calls[-1] == (3, 3)
        assert live.missing([1, 2, 7, 9]) == [2, 9]
        calls.clear()
        live.prepare([1, 7])  # already there: no work, no progress report
        assert calls == []
        future = live.prepare_async([2, 9])
        assert isinstance(future, Future)
        assert future.result(timeout=60) is None
        assert set(live.state.records) == {1, 2, 5, 7, 9} == chip_files(live.folder)
        assert live.missing([2, 9]) == []


def test_disk_cap_removes_least_recently_used_chips(raster, tmp_path) -> None:
    cache = tmp_path / "c"
    with open_source(raster, model=MODEL, cache_dir=cache) as probe:
        probe.prepare([0])
        one_chip = (cache / FEATURES_DIR / "chip_000000.pt").stat().st_size
    disk_mb = 2.5 * one_chip / 2**20  # room for two chips
    # No memory cache: every feature read goes to disk and counts as a use.
    with open_source(raster, model=MODEL, cache_dir=cache, disk_mb=disk_mb, memory_mb=0) as live:
        assert set(live.state.records) == {0}
        live.prepare([1])
        assert chip_files(cache) == manifest_ids(cache) == {0, 1}
        live.prepare([2])  # 0, encoded by the earlier session, is the least recently used
        assert chip_files(cache) == manifest_ids(cache) == {1, 2}
        live.features(1)  # 1 is now used more recently than 2
        live.prepare([3])
        assert chip_files(cache) == manifest_ids(cache) == {1, 3}
        live.prepare([3, 4, 5])  # more than fits: the chips asked for are kept anyway
        assert chip_files(cache) == manifest_ids(cache) == {3, 4, 5}
        assert live.cache.nbytes == 0
        # An evicted chip comes back, encoded again, with the same features.
        before = FeatureFolder.open(cache)
        again = live.features(0)
        assert 0 in chip_files(cache) and 0 in manifest_ids(cache)
        # Back within the cap: chip 0 (in use) and one of 3, 4, 5 (encoded together, as old).
        assert len(chip_files(cache)) == 2 and chip_files(cache) == manifest_ids(cache)
        assert sum(f.stat().st_size for f in (cache / FEATURES_DIR).glob("chip_*.pt")) <= live.disk_bytes
        assert 0 not in before.records
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "fresh") as fresh:
        expected = fresh.features(0)
    assert all(torch.equal(again[k], expected[k]) for k in expected)


def test_chip_file_removed_behind_the_cache_is_encoded_again(raster, tmp_path) -> None:
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "c", memory_mb=0) as live:
        first = live.features(4)
        (live.folder / FEATURES_DIR / "chip_000004.pt").unlink()
        second = live.features(4)
        assert (live.folder / FEATURES_DIR / "chip_000004.pt").is_file()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_memory_cache_keeps_recently_used_chips_within_its_bound(source, encoded) -> None:
    one = sum(t.nbytes for t in source.features(0).values())
    with open_source(encoded, memory_mb=2.5 * one / 2**20) as src:
        assert src.cache.max_bytes == int(2.5 * one)
        for cid in (0, 1):
            src.features(cid)
        assert src.cache.nbytes == 2 * one
        src.features(0)  # a hit: 0 becomes the most recently used
        src.features(2)
        assert 0 in src.cache and 2 in src.cache and 1 not in src.cache
        for cid in range(3, 12):
            src.features(cid)
            assert src.cache.nbytes <= src.cache.max_bytes
        assert src.cache.nbytes == 2 * one and 10 in src.cache and 11 in src.cache


def test_chip_cache_accounting() -> None:
    cache = ChipCache(max_mb=1.0)  # 1 MiB
    quarter = {"a": torch.zeros(2**16, dtype=torch.float32)}  # 256 KiB
    for cid in range(4):
        cache.put(cid, quarter)
    assert cache.nbytes == 2**20 and all(c in cache for c in range(4))
    cache.put(3, quarter)  # already there: not counted twice
    assert cache.nbytes == 2**20
    assert cache.get(0) is quarter  # 0 becomes the most recent
    cache.put(4, quarter)
    assert 1 not in cache and 0 in cache and cache.nbytes == 2**20
    cache.put(5, {"a": torch.zeros(2**19, dtype=torch.float32)})  # 2 MiB: larger than the bound
    assert cache.nbytes <= 2**20 and 5 not in cache
    assert cache.get(1) is None
    with pytest.raises(SettingsError, match="memory cache"):
        ChipCache(-1)
    empty = ChipCache(0)
    empty.put(0, quarter)
    assert empty.nbytes == 0 and 0 not in empty


def test_decoder_state_is_kept_with_its_chip_and_dropped_with_it(source, encoded) -> None:
    one = sum(t.nbytes for t in source.features(0).values())
    state = source.backend.prepare(source.features(0))
    assert isinstance(state, PreparedChip)
    both = one + state.nbytes
    with open_source(encoded, memory_mb=2.5 * both / 2**20) as src:
        first = src.decoder_input(0)
        assert isinstance(first, PreparedChip) and src.decoder_input(0) is first
        assert src.cache.prepared(0) is first and src.cache.nbytes == both
        src.decoder_input(1)
        assert src.cache.nbytes == 2 * both
        src.decoder_input(0)  # a click on 0 uses it: 1 is now the least recently used
        src.decoder_input(2)
        assert 1 not in src.cache and 0 in src.cache
        src.decoder_input(1)  # 0 goes, and its decoder state with it
        assert 0 not in src.cache and src.cache.prepared(0) is None
        assert src.cache.nbytes == 2 * both <= src.cache.max_bytes
        again = src.decoder_input(0)
        assert again is not first and all(torch.equal(getattr(again, k), getattr(first, k))
                                          for k in ("keys", "first_keys", "first_values"))
    with open_source(encoded, memory_mb=0) as src:  # no memory cache: prepared on every use, kept never
        assert isinstance(src.decoder_input(0), PreparedChip)
        assert src.cache.nbytes == 0 and src.cache.prepared(0) is None


def test_chip_cache_attaches_only_to_cached_chips() -> None:
    backend = load_backend("tiny-random-sam", device="cpu")
    features = {"image_embeddings": torch.zeros(backend.feature_shapes()["image_embeddings"])}
    state = backend.prepare(features)
    assert isinstance(state, PreparedChip)
    size = sum(t.nbytes for t in features.values())
    cache = ChipCache(max_mb=(size + state.nbytes) / 2**20)
    cache.attach(0, state)  # not cached: nothing kept
    assert cache.prepared(0) is None and cache.nbytes == 0
    cache.put(0, features)
    cache.attach(0, state)
    cache.attach(0, backend.prepare(features))  # once only
    assert cache.prepared(0) is state and cache.nbytes == size + state.nbytes
    cache.put(1, features)  # over the bound: 0 goes with its state
    assert 0 not in cache and cache.prepared(0) is None and cache.nbytes == size


def test_the_cache_appears_with_its_first_chip(raster, tmp_path) -> None:
    """A live run that encodes nothing (a prompt refused, a crash) leaves no cache behind."""
    cache = tmp_path / "new" / "cache"
    with open_source(raster, model=MODEL, cache_dir=cache) as live:
        assert live.missing([0]) == [0]
    assert not (tmp_path / "new").exists()
    with open_source(raster, model=MODEL, cache_dir=cache) as live:
        live.prepare([0])
    assert manifest_ids(cache) == chip_files(cache) == {0}


def test_bad_live_settings_are_refused(raster, tmp_path) -> None:
    with pytest.raises(SettingsError, match="live cache size"):
        open_source(raster, model=MODEL, cache_dir=tmp_path / "c", disk_mb=0)
    with pytest.raises(SettingsError, match="needs a model"):
        open_source(raster)
    with pytest.raises(SettingsError, match="live cache is a local folder, not the URL"):
        open_source(raster, model=MODEL, cache_dir="s3://bucket/cache")
    layer = tmp_path / "objects.geojson"  # an output layer opened by mistake is not called a raster
    layer.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(FeatureFolderError, match="neither a feature folder nor a raster GDAL reads"):
        open_source(layer)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(FolderConflictError):
        open_source(raster, model=MODEL, cache_dir=taken)
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    # A cache holding another encoding of the raster is not reused nor overwritten.
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "c", stride=256) as live:
        live.prepare([0])
    with pytest.raises(FolderConflictError, match="stride") as refused:
        open_source(raster, model=MODEL, cache_dir=tmp_path / "c")
    assert "another --cache folder" in str(refused.value) and "pass --overwrite" not in str(refused.value)
    assert manifest_ids(tmp_path / "c") == {0}


def test_a_cache_of_a_raster_changed_since_is_refused_with_what_segment_can_do(raster, tmp_path) -> None:
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "c") as live:
        live.prepare([0])
    with rasterio.open(raster, "r+") as ds:
        ds.write(255 - ds.read())
    with pytest.raises(FolderConflictError, match="changed since") as refused:
        open_source(raster, model=MODEL, cache_dir=tmp_path / "c")
    assert "another --cache folder" in str(refused.value) and "pass --overwrite" not in str(refused.value)
    assert manifest_ids(tmp_path / "c") == {0}


def test_opens_of_one_raster_at_once_share_its_default_cache(raster, samscape_home) -> None:
    def open_and_encode(chip_id: int) -> set[int]:
        with open_source(raster, model=MODEL) as live:
            live.prepare([chip_id])
            return set(live.state.records)

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(open_and_encode, range(4)))
    assert all(chip_id in ids for chip_id, ids in enumerate(done))
    (cache,) = (samscape_home / "live").iterdir()
    assert chip_files(cache) == {0, 1, 2, 3}


def test_opening_folders_checks_what_they_are(encoded, tmp_path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(FeatureFolderError, match="not a feature folder"):
        open_source(plain)
    with pytest.raises(SettingsError, match="tiny-random-sam"):
        open_source(encoded, model="tiny-random-sam2")
    with open_source(encoded, model=MODEL) as src:
        assert src.model_id == MODEL and src.has_chip(0) and not src.has_chip(len(src.chips))


def test_live_nodata_chips_are_skipped_like_pre_encoded(make_raster, encode_folder, tmp_path) -> None:
    data = np.full((3, 500, 600), 120, dtype="uint8")
    data[:, :, 300:] = 0  # nodata right half: the chips starting at column 344 are all nodata
    raster = make_raster(data=data, nodata=0)
    reference = FeatureFolder.open(encode_folder(raster))
    skipped = set(reference.metadata.skipped_chip_ids)
    assert len(skipped) == 3
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "c") as live:
        live.prepare(list(range(len(live.chips))))
        assert live.state.skipped == skipped
        assert [cid for cid in range(len(live.chips)) if not live.has_chip(cid)] == sorted(skipped)
        assert live.missing(list(range(len(live.chips)))) == []
        assert all(live.features(cid) is None for cid in skipped)
        prompts = PromptSet(live.crs).add_point(*(live.grid.transform @ (590.5, 200.5)))
        with pytest.raises(PromptError, match="no encoded chip covers"):
            Segmenter(live).segment(prompts)
    cache = FeatureFolder.open(tmp_path / "c")
    assert set(cache.metadata.skipped_chip_ids) == skipped
    assert set(cache.records) == set(reference.records)


def test_live_prompt_on_nodata_chips_is_refused_like_pre_encoded(make_raster, encode_folder,
                                                                 tmp_path) -> None:
    data = np.full((3, 500, 600), 120, dtype="uint8")
    data[:, :, 300:] = 0  # nodata right half: the chips starting at column 344 are all nodata
    raster = make_raster(data=data, nodata=0)
    with open_source(encode_folder(raster)) as pre:
        prompts = PromptSet(pre.crs).add_point(*(pre.grid.transform @ (590.5, 200.5)))
        with pytest.raises(PromptError, match="no encoded chip covers"):
            Segmenter(pre).segment(prompts)
    with open_source(raster, model=MODEL, cache_dir=tmp_path / "c") as live:
        with pytest.raises(PromptError, match="no encoded chip covers"):
            Segmenter(live).segment(prompts)
