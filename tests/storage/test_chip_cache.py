"""The local chip cache over a real fsspec store (fsspec's in-memory file system): a rewritten
object is fetched again, and the cache stays within its bound, least recently used out first."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from samscape.errors import SettingsError
from samscape.features.chipcache import ChipCache
from samscape.features.storage import FsspecStore, LocalStore, open_store


@pytest.fixture
def store() -> FsspecStore:
    opened = open_store(f"memory://samscape-{uuid.uuid4().hex[:8]}/ff")
    assert isinstance(opened, FsspecStore)
    return opened


def test_a_rewritten_chip_is_fetched_again(store: FsspecStore, tmp_path: Path):
    cache = ChipCache(tmp_path, 10_000)
    store.write("features/chip_000000.pt", b"old")
    assert cache.fetch(store, "features/chip_000000.pt").read_bytes() == b"old"
    store.write("features/chip_000000.pt", b"new!")
    assert cache.fetch(store, "features/chip_000000.pt").read_bytes() == b"new!"


def test_the_cache_keeps_within_its_bound(store: FsspecStore, tmp_path: Path):
    cache = ChipCache(tmp_path, 2500)
    names = [f"features/chip_{i:06d}.pt" for i in range(5)]
    for i, name in enumerate(names):
        store.write(name, bytes([i]) * 1000)
    paths = [cache.fetch(store, name) for name in names]
    held = sorted(tmp_path.glob("??/*.pt"))
    assert sum(p.stat().st_size for p in held) <= 2500
    assert paths[-1].is_file() and not paths[0].exists()
    assert cache.fetch(store, names[-1]).read_bytes() == bytes([4]) * 1000


def test_both_stores_offer_the_same_operations(store: FsspecStore, tmp_path: Path):
    for each in (store, LocalStore(tmp_path)):
        (tmp_path / "features").mkdir(exist_ok=True)
        each.write("features/chip_000001.pt", b"abc")
        each.write("manifest.parquet", b"m")
        assert each.read("features/chip_000001.pt") == b"abc" and each.exists("manifest.parquet")
        assert each.names("features") == ["chip_000001.pt"] and each.sizes() == {"manifest.parquet": 1}
        assert sorted(each.children()) == ["features", "manifest.parquet"]
        each.delete("manifest.parquet")
        each.delete("manifest.parquet")
        assert not each.exists("manifest.parquet") and each.names("nothing") == []
        with pytest.raises(FileNotFoundError):
            each.read("manifest.parquet")
    assert [p.name for p in tmp_path.iterdir()] == ["features"]  # no temporary left


def test_an_unknown_scheme_or_backend_is_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as where it is not installed
    with pytest.raises(SettingsError, match="pip install gcsfs"):
        open_store("gs://bucket/ff")
    with pytest.raises(SettingsError, match="not a URL samscape can read"):
        open_store("nosuchscheme://bucket/ff")
