"""The bundled demo model, scored on held-out scenes through samscape itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import samscape
from samscape.demo import generate_scene
from samscape.demo.evaluate import evaluate, point_prompt
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


# Issue 4's bar is 0.80 for one point and 0.85 for a box. Met so far: buildings from one point
# and water from a box (on the model card's three held-out scenes). The rest are guarded at the
# level the shipped weights reach on this scene, so that a worse model fails here.
BARS = {("point", "building"): 0.80, ("point", "water"): 0.55,
        ("box", "building"): 0.83, ("box", "water"): 0.80}


@pytest.mark.parametrize(("prompt", "cls"), list(BARS))
def test_quality_on_a_held_out_scene(evaluation, prompt: str, cls: str) -> None:
    assert len(evaluation.select(prompt, cls)) >= 3
    assert evaluation.mean_iou(prompt, cls) >= BARS[prompt, cls], evaluation.by_class(prompt)


def _largest(scene, cls: str):
    return max((o for o in scene.objects if o.cls == cls), key=lambda o: o.geometry.area)


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
