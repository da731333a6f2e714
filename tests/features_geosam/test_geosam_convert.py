"""`convert` both ways: Geo-SAM v2 ↔ samscape, their encodings exactly, nothing partial left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner

import samscape
from samscape.cli.main import cli
from samscape.errors import FeatureFolderError, FolderConflictError, SettingsError
from samscape.features import FeatureFolder, open_folder
from samscape.features.geosam import COLUMNS, GeosamFolder
from samscape.segment import PromptSet, Segmenter
from samscape.sources import open_source


def encoded(make_raster, tmp_path: Path, model: str = "tiny-random-sam", name: str = "samscape",
            **raster) -> Path:
    out = tmp_path / name
    samscape.encode(str(make_raster(name=f"{name}.tif", **raster)), out, model=model, progress=False)
    return out


def test_geosam_to_samscape_keeps_the_features_and_their_mapping(geosam_folder, tmp_path: Path) -> None:
    src = geosam_folder(stride=128)
    dst = samscape.convert(src, tmp_path / "converted", to="samscape", progress=False)
    folder = FeatureFolder.open(dst)
    meta = folder.metadata
    assert type(folder) is FeatureFolder and meta.dtype == "float16"
    assert meta.preprocessing.resize == "ultralytics_letterbox"
    assert meta.preprocessing.source_fingerprint.startswith("v2:")  # the raster was found
    assert all(not Path(r.feature_path).is_absolute() for r in folder.records.values())
    result = CliRunner().invoke(cli, ["info", str(dst), "--validate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["problems"] == {}
    geosam = open_folder(src)
    for chip_id in geosam.records:
        before, after = geosam.load_chip(chip_id), folder.load_chip(chip_id)
        for name, tensor in before.items():
            assert torch.allclose(after[name].float(), tensor, rtol=1e-3, atol=1e-3)
    masks = []
    for path in (src, dst):
        with open_source(path) as source:
            assert source.mapping is not None
            x, y = source.grid.transform @ (301.3, 222.7)
            masks.append(Segmenter(source).segment(PromptSet(source.crs).add_point(x, y)).mask)
    assert masks[0].shape == masks[1].shape
    assert (masks[0] & masks[1]).sum() / max((masks[0] | masks[1]).sum(), 1) > 0.95


def test_samscape_to_geosam_writes_geosam_columns_chips_and_paths(make_raster, tmp_path: Path) -> None:
    src = encoded(make_raster, tmp_path)
    with pytest.raises(FeatureFolderError, match="Geo-SAM does not know model 'tiny-random-sam'"):
        samscape.convert(src, tmp_path / "refused", to="geosam", progress=False)
    assert not (tmp_path / "refused").exists()
    with pytest.raises(SettingsError, match="does not name model"):
        samscape.convert(src, tmp_path / "refused", to="geosam", checkpoint="sam_b.pt", progress=False)
    dst = samscape.convert(src, tmp_path / "geosam", to="geosam", checkpoint="tiny-random-sam.pt",
                           progress=False)
    table = pq.read_table(dst / "manifest.parquet")
    assert tuple(table.column_names) == COLUMNS
    frame = gpd.read_parquet(dst / "manifest.parquet")
    original = FeatureFolder.open(src)
    assert len(frame) == len(original)
    assert frame.crs == original.crs and frame["crs"].iloc[0] == "EPSG:32633"
    for _, row in frame.iterrows():
        chip_id = int(row["chip_id"].removeprefix("chip_"))
        record = original.records[chip_id]
        assert row["feature_path"] == str(dst.resolve() / "features" / f"chip_{chip_id:06d}.pt")
        assert json.loads(row["transform"]) == list(record.transform)[:6]
        assert json.loads(row["shape"]) == [record.height, record.width]
        assert json.loads(row["dst_shape"]) == [256, 256]
        assert row["model_type"] == "sam" and row["checkpoint_path"] == "tiny-random-sam.pt"
        assert Path(row["source_path"]) == (tmp_path / "samscape.tif").resolve()
        xmin, ymin, xmax, ymax = record.bounds
        assert row.geometry.bounds == pytest.approx((xmin, ymin, xmax, ymax))
        assert (row["chip_center_x"], row["chip_center_y"]) == pytest.approx(
            ((xmin + xmax) / 2, (ymin + ymax) / 2))
        payload = torch.load(row["feature_path"], weights_only=True)
        assert set(payload) == {"model_type", "checkpoint_path", "src_shape", "dst_shape",
                                "feature_kind", "features"}
        assert payload["src_shape"] == (record.height, record.width) and payload["dst_shape"] == (256, 256)
        assert payload["feature_kind"] == "sam" and payload["features"].dtype == torch.float32
        assert tuple(payload["features"].shape) == (1, 32, 16, 16)
        assert torch.equal(payload["features"][0], original.load_chip(chip_id)["image_embeddings"].float())
    assert isinstance(open_folder(dst), GeosamFolder) and open_folder(dst).problems() == {}
    again = samscape.convert(src, tmp_path / "again", to="geosam", checkpoint="tiny-random-sam.pt",
                             progress=False)
    for chip in (dst / "features").iterdir():  # byte for byte: no temporary name in the archives
        assert (again / "features" / chip.name).read_bytes() == chip.read_bytes()

    back = samscape.convert(dst, tmp_path / "back", to="samscape", progress=False)
    returned = FeatureFolder.open(back)
    for chip_id in original.records:
        assert torch.equal(returned.load_chip(chip_id)["image_embeddings"],
                           original.load_chip(chip_id)["image_embeddings"])


def test_a_round_trip_through_geosam_keeps_the_encoding(make_raster, tmp_path: Path) -> None:
    """Bands, value range, nodata chips and a grid whose first chips are nodata: what Geo-SAM's
    rows do not tell is kept in the manifest, and the way back resumes with nothing to encode."""
    from samscape.features.geosam.manifest import ORIGIN_KEY

    data = np.random.default_rng(0).integers(40, 200, (3, 500, 600), dtype=np.uint8)
    data[:, :, :300] = 0
    raster = make_raster(data=data, nodata=0)
    settings = {"model": "tiny-random-sam", "bands": (2, 1, 3), "value_range": (40.0, 180.0)}
    samscape.encode(str(raster), tmp_path / "ff", progress=False, **settings)
    original = FeatureFolder.open(tmp_path / "ff")
    assert original.metadata.skipped_chip_ids and 0 not in original.records
    dst = samscape.convert(tmp_path / "ff", tmp_path / "geosam", to="geosam",
                           checkpoint="tiny-random-sam.pt", progress=False)
    opened = open_folder(dst)
    assert isinstance(opened, GeosamFolder) and opened.problems() == {}
    ours, theirs = original.metadata.preprocessing, opened.metadata.preprocessing
    assert theirs.resize == "ultralytics_letterbox"  # prompts mapped as Geo-SAM maps them
    assert theirs.model_copy(update={"resize": ours.resize, "mean": ours.mean, "std": ours.std}) == ours
    assert opened.metadata.skipped_chip_ids == original.metadata.skipped_chip_ids
    point = original.records[max(original.records)].bounds
    prompt = PromptSet("EPSG:32633").add_point((point[0] + point[2]) / 2, (point[1] + point[3]) / 2)
    with open_source(dst) as source:
        assert Segmenter(source).segment(prompt).chip_ids
    back = samscape.convert(dst, tmp_path / "back", to="samscape", progress=False)
    assert FeatureFolder.open(back).metadata.same_encoding(original.metadata)
    again = samscape.encode(str(raster), back, progress=False, **settings)
    assert again.encoded == again.nodata == 0

    table = pq.read_table(dst / "manifest.parquet")  # as Geo-SAM writes it: the grid from the rows
    pq.write_table(table.replace_schema_metadata(
        {k: v for k, v in table.schema.metadata.items() if k != ORIGIN_KEY}), dst / "manifest.parquet")
    with pytest.raises(FeatureFolderError, match="not where its grid puts"):
        open_folder(dst)


def test_geosam_frame_is_what_geopandas_writes(make_raster, tmp_path: Path) -> None:
    """The exported manifest reads back in geopandas as the frame geosam itself would write."""
    src = encoded(make_raster, tmp_path)
    dst = samscape.convert(src, tmp_path / "geosam", to="geosam", checkpoint="tiny-random-sam.pt",
                           progress=False)
    ours = gpd.read_parquet(dst / "manifest.parquet")
    rows = ours.drop(columns="geometry").to_dict("records")
    theirs_path = tmp_path / "geopandas.parquet"
    gpd.GeoDataFrame([{**r, "geometry": g} for r, g in zip(rows, ours.geometry, strict=True)],
                     geometry="geometry", crs="EPSG:32633").to_parquet(theirs_path)
    theirs = gpd.read_parquet(theirs_path)
    assert list(ours.columns) == list(theirs.columns)
    assert list(map(str, ours.dtypes)) == list(map(str, theirs.dtypes))
    assert ours.crs == theirs.crs
    assert ours.drop(columns="geometry").equals(theirs.drop(columns="geometry"))
    assert ours.geometry.geom_equals(theirs.geometry).all()


@pytest.mark.parametrize(("base", "expected"), [
    ("/mnt/gis/feats/", "/mnt/gis/feats/features/chip_000000.pt"),
    ("D:\\gis\\feats", "D:\\gis\\feats\\features\\chip_000000.pt"),
])
def test_base_path_is_where_geosam_will_read_the_chips(make_raster, tmp_path: Path, base: str,
                                                      expected: str) -> None:
    src = encoded(make_raster, tmp_path, width=300, height=260)
    dst = samscape.convert(src, tmp_path / "geosam", to="geosam", base_path=base,
                           checkpoint="tiny-random-sam.pt", progress=False)
    assert pq.read_table(dst / "manifest.parquet")["feature_path"][0].as_py() == expected
    assert isinstance(open_folder(dst), GeosamFolder)  # read from the folder, wherever it says


def test_sam2_square_chips_are_refused_full_chips_converted(make_raster, tmp_path: Path) -> None:
    small = encoded(make_raster, tmp_path, "tiny-random-sam2", "small", width=200, height=150)
    with pytest.raises(FeatureFolderError, match="stretched to a square"):
        samscape.convert(small, tmp_path / "small-geosam", to="geosam",
                         checkpoint="tiny-random-sam2.pt", progress=False)
    full = encoded(make_raster, tmp_path, "tiny-random-sam2", "full", width=300, height=260)
    dst = samscape.convert(full, tmp_path / "full-geosam", to="geosam",
                           checkpoint="tiny-random-sam2.pt", progress=False)
    payload = torch.load(dst / "features" / "chip_000000.pt", weights_only=True)
    features = payload["features"]
    assert payload["model_type"] == "sam2" and set(features) == {"image_embed", "high_res_feats"}
    assert [tuple(t.shape) for t in features["high_res_feats"]] == [(1, 4, 64, 64), (1, 8, 32, 32)]
    assert tuple(features["image_embed"].shape) == (1, 32, 16, 16)
    assert open_folder(dst).problems() == {}


def test_nothing_partial_is_left(geosam_folder, tmp_path: Path) -> None:
    src = geosam_folder()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(FolderConflictError, match="not empty"):
        samscape.convert(src, busy, to="samscape", progress=False)
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    with pytest.raises(FolderConflictError, match="SRC and DST are both"):
        samscape.convert(src, src / ".." / src.name, to="samscape", progress=False)

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    leftover = tmp_path / f".out.{dead}.0123456789ab.tmp"  # a killed conversion's
    (leftover / "features").mkdir(parents=True)

    def interrupt(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        samscape.convert(src, tmp_path / "out", to="samscape", progress=interrupt)
    assert not (tmp_path / "out").exists()
    assert not leftover.exists()  # removed by the next conversion there
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]

    (src / "features" / "chip_000004.pt").write_bytes(b"damaged")
    with pytest.raises(FeatureFolderError, match="chip 4 .* corrupt"):
        samscape.convert(src, tmp_path / "out", to="samscape", progress=False)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_cli_convert(geosam_folder, tmp_path: Path, make_raster) -> None:
    runner = CliRunner()
    src = geosam_folder()
    result = runner.invoke(cli, ["convert", str(src), str(tmp_path / "a"), "--to", "samscape", "--json",
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["format"] == "samscape-features"
    demo = tmp_path / "demo"
    samscape.encode(str(make_raster(name="d.tif", width=300, height=260)), demo, model="demo",
                    progress=False)
    for args, message in (
        (["convert", str(demo), str(tmp_path / "b"), "--to", "geosam"], "Geo-SAM does not know model 'demo'"),
        (["convert", str(demo), str(tmp_path / "b"), "--to", "geosam", "--checkpoint", "demo.pt",
          "--base-path", "relative/place"], "is not valid"),
        (["convert", str(src), str(tmp_path / "b"), "--to", "geosam"], "already a Geo-SAM folder"),
        (["convert", str(tmp_path / "a"), str(tmp_path / "a2"), "--to", "samscape"], "already a samscape"),
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code != 0 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()
    result = runner.invoke(cli, ["convert", str(demo), str(tmp_path / "b"), "--to", "geosam",
                                 "--checkpoint", "demo.pt", "--quiet"])
    assert result.exit_code == 0, result.output
    assert np.array_equal(open_folder(tmp_path / "b").load_chip(0)["image_embeddings"].numpy(),
                          FeatureFolder.open(demo).load_chip(0)["image_embeddings"].float().numpy())
