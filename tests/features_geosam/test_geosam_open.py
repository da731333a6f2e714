"""Geo-SAM v2 folders open wherever a feature folder is accepted, and decode as Geo-SAM does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import samscape
from samscape.features import open_folder
from samscape.features.geosam import GeosamFolder
from samscape.geo import ChipGrid
from samscape.sources import open_source

from .writer import geosam_chip, geosam_mask


def test_opens_after_moving_with_the_grid_geosam_cut(geosam_folder) -> None:
    folder = geosam_folder(width=600, height=500, stride=128)  # 256-px chips of the tiny model
    manifest = pq.read_table(folder / "manifest.parquet").to_pydict()
    assert not Path(manifest["feature_path"][0]).exists()  # written elsewhere, then moved
    opened = open_folder(folder)
    assert isinstance(opened, GeosamFolder)
    pre = opened.metadata.preprocessing
    assert (pre.grid.width, pre.grid.height, pre.chip_size, pre.stride) == (600, 500, 256, 128)
    assert pre.resize == "ultralytics_letterbox"
    assert pre.bands == (3, 2, 1)  # Ultralytics reads the RGB chip as BGR
    assert len(opened) == len(manifest["chip_id"]) == opened.metadata.grid_chip_count == 4 * 3
    grid = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
    for chip_id, transform in zip(manifest["chip_id"], manifest["transform"], strict=True):
        record = opened.records[int(chip_id.removeprefix("chip_"))]
        assert tuple(record.transform)[:6] == pytest.approx(json.loads(transform))
        assert record.transform == grid.chip(record.chip_id).transform
    assert opened.problems() == {}
    summary = opened.summary()
    assert summary["format"] == "geosam-v2" and summary["complete"]
    assert summary["model"]["id"] == "tiny-random-sam"


@pytest.mark.parametrize("model", ["tiny-random-sam", "tiny-random-sam2"])
@pytest.mark.parametrize("size", [(600, 500), (200, 150)])
def test_a_prompt_decodes_to_the_mask_geosam_gives(geosam_folder, model: str, size) -> None:
    """Full chips, and a raster smaller than a chip (letterboxed: resized and padded)."""
    width, height = size
    folder = geosam_folder(model, width=width, height=height)
    with open_source(folder) as source:
        assert source.mapping is not None
        backend = source.backend
        grid = source.grid
        for col, row in ((37.3, 41.8), (width - 20.6, height - 30.2), (width / 2, height / 3)):
            x, y = grid.transform @ (col, row)
            row_dict = geosam_chip(folder, x, y)
            chip_id = int(row_dict["chip_id"].removeprefix("chip_"))
            chip = source.chips.chip(chip_id)
            shape = (chip.window.height, chip.window.width)
            features = source.features(chip_id)
            expected = geosam_mask(backend, features, chip.transform, shape, [(x, y)])
            local = (~chip.transform) @ (x, y)
            low, _ = source.decode_low_res(source.decoder_input(chip_id), shape,
                                           torch.tensor([local]) - 0.5, torch.tensor([1]), None, False)
            got = source.upscale(low, shape)[0].numpy() > 0
            assert got.shape == expected.shape
            assert (got != expected).sum() == 0, f"{model} {size} chip {chip_id}"


def test_a_box_decodes_to_the_mask_geosam_gives(geosam_folder) -> None:
    folder = geosam_folder("tiny-random-sam2", width=200, height=150)
    with open_source(folder) as source:
        chip = source.chips.chip(0)
        shape = (chip.window.height, chip.window.width)
        x0, y1 = chip.transform @ (20.25, 30.5)
        x1, y0 = chip.transform @ (120.75, 101.0)
        expected = geosam_mask(source.backend, source.features(0), chip.transform, shape, [],
                               bbox=(x0, y0, x1, y1))
        box = torch.tensor([20.25, 30.5, 120.75, 101.0]) - 0.5
        low, _ = source.decode_low_res(source.decoder_input(0), shape, None, None, box, False)
        assert ((source.upscale(low, shape)[0].numpy() > 0) != expected).sum() == 0


def test_segments_objects_across_chips_from_a_geosam_folder(make_raster, tmp_path: Path) -> None:
    """The demo model on its scene (bands stored B, G, R, so that Geo-SAM's encoder, which reads
    the chip as BGR, sees R, G, B as the model was trained), encoded the Geo-SAM way: objects
    come out as from samscape's own folder, across chip edges too."""
    from samscape.demo import generate_scene
    from samscape.demo.evaluate import object_iou, point_prompt
    from samscape.segment import Segmenter

    from .writer import write_geosam_folder

    scene = generate_scene(4, 768, 768)
    bgr = np.ascontiguousarray(scene.image[..., ::-1].transpose(2, 0, 1))
    raster = make_raster("scene_bgr.tif", data=bgr, crs=scene.grid.crs, transform=scene.grid.transform)
    folder = write_geosam_folder(raster, tmp_path / "geosam", "demo", "/models/demo.pt", stride=128)
    largest = sorted(scene.objects, key=lambda o: o.geometry.area)[-8:]
    with open_source(folder) as source:
        assert source.metadata.preprocessing.bands == (3, 2, 1)  # R, G, B of this raster
        results = {o.object_id: Segmenter(source).segment(point_prompt(scene, o.object_id))
                   for o in largest}
    assert max(len(r.chip_ids) for r in results.values()) > 1
    assert np.mean([object_iou(scene, i, r) for i, r in results.items()]) > 0.8


def test_info_validate_and_segment_cli_on_a_moved_geosam_folder(geosam_folder, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from samscape.cli.main import cli

    folder = geosam_folder()
    runner = CliRunner()
    result = runner.invoke(cli, ["info", str(folder), "--validate", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["format"] == "geosam-v2" and info["problems"] == {}
    with samscape.open_source(folder) as source:
        x, y = source.grid.transform @ (300, 250)
    out = tmp_path / "out.gpkg"
    result = runner.invoke(cli, ["segment", str(folder), "--out", str(out), "--point", f"{x},{y}", "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.is_file()
    manifest = str(folder / "manifest.parquet")  # Geo-SAM takes the folder or its manifest
    assert runner.invoke(cli, ["info", manifest, "--json"]).output == runner.invoke(
        cli, ["info", str(folder), "--json"]).output
    result = runner.invoke(cli, ["segment", manifest, "--out", str(out), "--point", f"{x},{y}", "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["info", str(folder)])
    assert result.exit_code == 0 and "format:        geosam-v2\n" in result.output


def test_the_server_opens_a_geosam_folder(geosam_folder) -> None:
    from fastapi.testclient import TestClient

    from samscape.serve.api import create_app
    from samscape.serve.roots import Roots

    folder = geosam_folder()
    app = create_app(Roots.of(folder.parent.parent))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        answer = client.post("/api/sources", json={"path": str(folder)})
        assert answer.status_code == 201, answer.text
        source = answer.json()
        tile = client.get(f"/api/sources/{source['id']}/tiles/0/0/0.png")
        assert tile.status_code == 200


def bad(folder: Path, capsys) -> str:
    from samscape.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        import sys

        sys.argv = ["samscape", "info", str(folder), "--validate"]
        main()
    assert exit_info.value.code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_geosam_v1_folder_is_named_as_one(tmp_path: Path, make_raster, capsys) -> None:
    v1 = tmp_path / "sam_feat_vit_h_bands_1_2_3_abcdef0123456789"
    v1.mkdir()
    make_raster(name="sam_feat_vit_h_0a1b.tif").rename(v1 / "sam_feat_vit_h_0a1b.tif")
    (v1 / f"{v1.name}.csv").write_text(",minx,maxx,miny,maxy,mint,maxt,filepath,crs,res\n")
    err = bad(v1, capsys)
    assert "Geo-SAM v1" in err and "samscape encode" in err
    with pytest.raises(samscape.errors.FeatureFolderError, match="Geo-SAM v1"):
        open_source(v1)


def test_bad_geosam_folders_are_one_line_errors(geosam_folder, capsys) -> None:
    import geopandas as gpd

    folder = geosam_folder()
    (folder / "features" / "chip_000001.pt").write_bytes(b"not a torch file")
    (folder / "features" / "chip_000002.pt").unlink()
    torch.save({"model_type": "sam", "features": np.zeros(3)}, folder / "features" / "chip_000003.pt")
    err = bad(folder, capsys)
    assert "chip 1" in err and "corrupt" in err and "chip 2" in err and "missing" in err
    with open_source(folder) as source:
        with pytest.raises(samscape.errors.FeatureFolderError, match="chip 2 .* is missing"):
            source.load(2)

    frame = gpd.read_parquet(folder / "manifest.parquet")
    frame["checkpoint_path"] = "/models/sam2_b.pt"
    frame["model_type"] = "sam2"
    frame.to_parquet(folder / "manifest.parquet")
    assert "SAM 2.0" in bad(folder, capsys)
    frame["checkpoint_path"] = "/models/my_finetuned.pt"
    frame.to_parquet(folder / "manifest.parquet")
    assert "not one samscape knows" in bad(folder, capsys)
    frame["checkpoint_path"] = "/models/sam3.pt"
    frame["model_type"] = "sam3"
    frame.to_parquet(folder / "manifest.parquet")
    assert "SAM 3" in bad(folder, capsys)
    frame["checkpoint_path"] = "/models/tiny-random-sam.pt"
    frame["model_type"] = "sam"
    frame.loc[1, "transform"] = json.dumps([0.5, 0, 500000.3, 0, -0.5, 4000000.0])
    frame.to_parquet(folder / "manifest.parquet")
    assert "not on the grid" in bad(folder, capsys)


def test_a_cancelled_geosam_encoding_opens_incomplete(geosam_folder) -> None:
    """The plugin writes the manifest of the chips done when cancelled: the first ones, row-major."""
    import geopandas as gpd

    folder = geosam_folder(stride=128)
    frame = gpd.read_parquet(folder / "manifest.parquet")
    frame.iloc[:9].to_parquet(folder / "manifest.parquet")
    summary = open_folder(folder).summary()
    assert (summary["chip_count"], summary["grid_chip_count"], summary["complete"]) == (9, 12, False)
    with open_source(folder) as source:
        x, y = source.grid.transform @ (590, 490)
        with pytest.raises(samscape.errors.PromptError, match="not encoded; run .samscape encode"):
            samscape.Segmenter(source).segment(samscape.PromptSet(source.crs).add_point(x, y))


def test_float16_geosam_chips_are_read(geosam_folder) -> None:
    """Ultralytics with half=True on a GPU stores float16 features."""
    folder = geosam_folder()
    file = folder / "features" / "chip_000000.pt"
    payload = torch.load(file, weights_only=True)
    payload["features"] = payload["features"].half()
    torch.save(payload, file)
    features = open_folder(folder).load_chip(0)["image_embeddings"]
    assert features.dtype == torch.float32
    assert torch.equal(features, payload["features"][0].float())


def test_folders_geosam_made_without_a_manifest_say_what_to_do(geosam_folder, tmp_path: Path,
                                                              capsys) -> None:
    folder = geosam_folder()
    plugin_output = folder.parent  # the plugin writes OUTPUT/<layer name>/manifest.parquet
    assert f"'{folder}' in it is: give that folder" in bad(plugin_output, capsys)
    early = tmp_path / "early"
    early.mkdir()
    (early / "manifest.pkl").write_bytes(b"\x80\x04N.")
    assert "pickled manifest" in bad(early, capsys)


def test_info_on_a_geosam_folder_imports_no_torch(geosam_folder) -> None:
    import subprocess
    import sys

    folder = geosam_folder()
    probe = ("import json, sys\nfrom click.testing import CliRunner\nfrom samscape.cli.main import cli\n"
             f"result = CliRunner().invoke(cli, ['info', {str(folder)!r}])\n"
             "print(json.dumps({'exit': result.exit_code, 'output': result.output, 'loaded': "
             "[m for m in ('torch', 'transformers', 'pandas', 'geopandas') if m in sys.modules]}))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                         check=True)
    answer = json.loads(run.stdout)
    assert answer["exit"] == 0 and "geosam-v2" in answer["output"]
    assert answer["loaded"] == []


def test_checkpoint_names_map_to_catalogue_models() -> None:
    from samscape.features.geosam import checkpoint_for_model, model_for_checkpoint

    assert model_for_checkpoint("C:\\Users\\me\\Geo-SAM\\models\\sam_b.pt") == "sam-vit-base"
    assert model_for_checkpoint("/home/me/.geosam/sam2.1_b.pt") == "sam2.1-hiera-base-plus"
    assert model_for_checkpoint("/x/SAM_L.pt") == "sam-vit-large"
    assert model_for_checkpoint("/x/demo.pt") == "demo"
    assert model_for_checkpoint("/x/sam_b_finetuned.pt") is None  # Geo-SAM would guess sam_b
    assert model_for_checkpoint("/x/sam2_t.pt") is None
    assert checkpoint_for_model("sam2.1-hiera-large") == "sam2.1_l.pt"
    assert checkpoint_for_model("sam-vit-huge") is None  # not in Geo-SAM's registry


def test_a_custom_crs_written_as_wkt(geosam_folder) -> None:
    from rasterio.crs import CRS

    laea = "+proj=laea +lat_0=50 +lon_0=11.5 +x_0=1000 +y_0=2000 +ellps=GRS80 +units=m +no_defs"
    folder = geosam_folder(crs=laea, width=300, height=260)
    text = pq.read_table(folder / "manifest.parquet")["crs"][0].as_py()
    assert not text.startswith("EPSG")  # Geo-SAM writes the WKT
    with open_source(folder) as source:
        assert source.crs == CRS.from_string(laea)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_geosam_folder_is_never_encoded_over(geosam_folder, make_raster, overwrite: bool) -> None:
    folder = geosam_folder(width=300, height=300)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(samscape.errors.FolderConflictError, match="is a Geo-SAM feature folder, which "
                       "samscape leaves as it is; choose a new or empty folder"):
        samscape.encode(str(make_raster(width=300, height=300)), folder, model="tiny-random-sam",
                        overwrite=overwrite, progress=False)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
