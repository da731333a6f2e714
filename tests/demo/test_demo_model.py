"""The bundled demo model, scored on held-out scenes through samscape itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import samscape
from samscape.demo import generate_scene
from samscape.demo.evaluate import evaluate, object_iou, point_prompt
from samscape.models import CATALOGUE, load_backend
from samscape.models.store import bundled_path
from samscape.segment import EncodedSource, Segmenter, open_source

SEED = 1  # a held-out scene: training scenes use seeds from 100 000
CHIP = 256


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory):
    """The scene, its GeoTIFF, and its feature folder encoded with the defaults."""
    scene = generate_scene(SEED)
    root = tmp_path_factory.mktemp("held-out")
    raster, _ = scene.write(root)
    samscape.encode(str(raster), root / "features", model="demo", progress=False)
    return scene, raster, root / "features"


@pytest.fixture(scope="module")
def evaluation(held_out):
    scene, _, folder = held_out
    with EncodedSource.open(folder) as source:
        return evaluate(Segmenter(source), scene, classes=("building", "water"))


def test_demo_weights_ship_in_the_package_with_their_card() -> None:
    folder = bundled_path(CATALOGUE["demo"])
    weights = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    assert 0 < weights <= 20 * 2**20
    card = (folder / "MODEL_CARD.md").read_text()
    for needed in ("Use it for", "Do not use it for", "## Training", "## Scores", "building"):
        assert needed in card
    backend = load_backend("demo", device="cpu")
    assert backend.info.input_size == CHIP
    assert backend.info.weights_sha256 == backend.info.weights_sha256.lower()


@pytest.mark.parametrize("cls", ["building", "water"])
def test_one_point_segments_the_object(evaluation, cls: str) -> None:
    assert len(evaluation.select("point", cls)) >= 3
    assert evaluation.mean_iou("point", cls) >= 0.80


@pytest.mark.parametrize("cls", ["building", "water"])
def test_a_box_segments_the_object(evaluation, cls: str) -> None:
    assert evaluation.mean_iou("box", cls) >= 0.85


def _largest(scene, cls: str):
    return max((o for o in scene.objects if o.cls == cls), key=lambda o: o.geometry.area)


@pytest.mark.parametrize("cls", ["water", "field"])
def test_an_object_larger_than_a_chip_is_one_polygon(held_out, cls: str) -> None:
    scene, _, folder = held_out
    target = _largest(scene, cls)
    xmin, ymin, xmax, ymax = target.geometry.bounds
    assert max(xmax - xmin, ymax - ymin) > CHIP * 0.5  # metres: wider than one chip
    with EncodedSource.open(folder) as source:
        result = Segmenter(source).segment(point_prompt(scene, target.object_id))
    assert len(result.chip_ids) > 1
    assert len(result.polygons) == 1
    assert object_iou(scene, target.object_id, result) >= 0.80


def test_live_segmentation_agrees_with_pre_encoded(held_out, tmp_path: Path) -> None:
    scene, raster, folder = held_out
    prompts = point_prompt(scene, _largest(scene, "water").object_id)
    with EncodedSource.open(folder) as source:
        encoded = Segmenter(source).segment(prompts)
    with open_source(raster, "demo", cache_dir=tmp_path / "live") as source:
        live = Segmenter(source).segment(prompts)
    assert live.chip_ids == encoded.chip_ids
    assert live.window == encoded.window
    assert np.array_equal(live.mask, encoded.mask)
