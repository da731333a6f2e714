"""The Geo-SAM v2 folder as geosam 0.1.3 writes and reads it: each fact docs/geosam.md states about
the layout, the manifest's columns and encodings, the chip files, and which chip answers a prompt,
checked on folders that geosam's own FeatureCacheBuilder wrote."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import rasterio
import torch
from affine import Affine
from shapely import wkb
from shapely.geometry import box

from .harness import Oracle

COLUMNS = {"feature_path": "large_string", "chip_id": "large_string", "source_path": "large_string",
           "checkpoint_path": "large_string", "model_type": "large_string", "transform": "large_string",
           "shape": "large_string", "crs": "large_string", "dst_shape": "large_string",
           "chip_center_x": "double", "chip_center_y": "double", "geometry": "binary"}
CHIP_KEYS = {"model_type", "checkpoint_path", "src_shape", "dst_shape", "feature_kind", "features"}


def manifest(folder: Path) -> list[dict]:
    return pq.read_table(folder / "manifest.parquet").to_pylist()


def test_manifest_columns_and_encodings(geosam_folder: Callable[..., Path], real_geotiff: Path) -> None:
    """SAM 2, 256-pixel chips on the 384 × 256 raster: two chips, the last shifted to end at the
    raster's right edge, numbered row-major; every column as docs/geosam.md gives it."""
    folder = geosam_folder("sam2.1_t.pt", 256)
    table = pq.read_table(folder / "manifest.parquet")
    assert {f.name: str(f.type) for f in table.schema} == COLUMNS
    assert json.loads(table.schema.metadata[b"geo"])["columns"]["geometry"]["encoding"] == "WKB"
    with rasterio.open(real_geotiff) as src:
        transform = src.transform
    rows = manifest(folder)
    assert [r["chip_id"] for r in rows] == ["chip_000000", "chip_000001"]
    for row, col_off in zip(rows, (0, 128), strict=True):
        assert row["feature_path"] == str(folder.resolve() / "features" / f"{row['chip_id']}.pt")
        assert Path(row["source_path"]) == real_geotiff.resolve()
        assert row["checkpoint_path"].endswith("/sam2.1_t.pt") and row["model_type"] == "sam2"
        chip_transform = transform @ Affine.translation(col_off, 0)
        assert json.loads(row["transform"]) == pytest.approx(list(chip_transform)[:6], abs=1e-12)
        assert json.loads(row["shape"]) == [256, 256]
        assert json.loads(row["dst_shape"]) == [1024, 1024]
        assert row["crs"] == "EPSG:4326"
        left, top = chip_transform @ (0, 0)
        right, bottom = chip_transform @ (256, 256)
        assert wkb.loads(row["geometry"]).equals_exact(box(left, bottom, right, top), 1e-9)
        assert (row["chip_center_x"], row["chip_center_y"]) == pytest.approx(((left + right) / 2,
                                                                               (top + bottom) / 2))


@pytest.mark.parametrize("name", ["sam_b.pt", "sam2.1_t.pt"])
def test_chip_files_load_with_weights_only(geosam_folder: Callable[..., Path], name: str) -> None:
    folder = geosam_folder(name)
    (row,) = manifest(folder)  # the 384 × 256 raster is one chip at the default 1024
    assert sorted(p.name for p in (folder / "features").iterdir()) == ["chip_000000.pt"]
    chip = torch.load(row["feature_path"], weights_only=True)
    assert set(chip) == CHIP_KEYS
    assert chip["src_shape"] == (256, 384) and chip["dst_shape"] == (1024, 1024)
    assert chip["checkpoint_path"] == row["checkpoint_path"]
    if name == "sam_b.pt":
        assert chip["model_type"] == chip["feature_kind"] == "sam"
        assert chip["features"].shape == (1, 256, 64, 64) and chip["features"].dtype == torch.float32
    else:
        assert chip["model_type"] == chip["feature_kind"] == "sam2"
        features = chip["features"]
        assert set(features) == {"image_embed", "high_res_feats"}
        assert isinstance(features["high_res_feats"], list)
        assert features["image_embed"].shape == (1, 256, 64, 64)
        assert [tuple(t.shape) for t in features["high_res_feats"]] == [(1, 32, 256, 256), (1, 64, 128, 128)]
        assert all(t.dtype == torch.float32 for t in (features["image_embed"], *features["high_res_feats"]))


def test_prompt_goes_to_the_covering_chip_with_the_nearest_centre(
        oracle: Oracle, geosam_folder: Callable[..., Path], geosam_checkpoints: dict[str, Path],
        real_geotiff: Path, tmp_path: Path) -> None:
    """Column 230 lies in both chips (columns 0–255 and 128–383); chip 1's centre (column 256) is
    nearer than chip 0's (128), so geosam answers from chip 1, on chip 1's grid."""
    folder = geosam_folder("sam2.1_t.pt", 256)
    with rasterio.open(real_geotiff) as src:
        x, y = src.transform @ (230.5, 100.5)
    found = oracle.run("query.py", folder, geosam_checkpoints["sam2.1_t.pt"], x, y, tmp_path)
    assert found["chip_id"] == "chip_000001"
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["shape"] == [256, 256]
    assert result["transform"] == pytest.approx(json.loads(manifest(folder)[1]["transform"]))


def test_a_moved_folder_does_not_open_in_geosam(
        oracle: Oracle, geosam_folder: Callable[..., Path], geosam_checkpoints: dict[str, Path],
        real_geotiff: Path, tmp_path: Path) -> None:
    """feature_path is absolute and used verbatim: once the folder moves, geosam cannot load a chip."""
    moved = tmp_path / "elsewhere"
    shutil.copytree(geosam_folder("sam2.1_t.pt"), moved)
    original = geosam_folder("sam2.1_t.pt")
    hidden = original.with_name("rmnp-hidden")
    original.rename(hidden)
    try:
        with rasterio.open(real_geotiff) as src:
            x, y = src.transform @ (100.5, 100.5)
        with pytest.raises(RuntimeError, match="FileNotFoundError"):
            oracle.run("query.py", moved, geosam_checkpoints["sam2.1_t.pt"], x, y, tmp_path / "out")
    finally:
        hidden.rename(original)
