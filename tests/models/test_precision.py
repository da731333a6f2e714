"""The evidence behind MIXED_PRECISION_FAMILIES and float16 feature storage.

Masks decoded from features encoded under autocast (bf16 on a CPU with avx512_bf16/amx_bf16) must
agree with masks from fp32 features: mean IoU >= 0.98 over several prompts on structured chips.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from transformers import SamConfig, SamModel

from samscape.models import CATALOGUE, ModelInfo, SamBackend, autocast_dtype, load_backend
from samscape.models.catalogue import MIXED_PRECISION_FAMILIES

SIZE = 256
MIN_IOU = 0.98
PROMPTS = [
    {"points": torch.tensor([[64.0, 64.0]]), "labels": torch.tensor([1])},
    {"points": torch.tensor([[128.0, 100.0], [200.0, 40.0]]), "labels": torch.tensor([1, 0])},
    {"points": torch.tensor([[30.0, 220.0]]), "labels": torch.tensor([1])},
    {"points": torch.tensor([[180.0, 150.0], [60.0, 200.0], [220.0, 220.0]]),
     "labels": torch.tensor([1, 1, 0])},
    {"box": torch.tensor([40.0, 50.0, 180.0, 210.0])},
]

needs_reduced_precision = pytest.mark.skipif(
    autocast_dtype(torch.device("cpu")) is None,
    reason="this CPU has no fast bf16, so mixed precision is off here",
)


def structured_chip(seed: int) -> torch.Tensor:
    """(SIZE, SIZE, 3) uint8: smooth colour gradients with a few flat discs and rectangles, light noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    image = np.stack([xx * 200 + 20, yy * 180 + 30, (xx + yy) * 90 + 10], axis=-1)
    for _ in range(4):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        r = rng.uniform(0.08, 0.2)
        if rng.random() < 0.5:
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        else:
            inside = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < 1.3 * r)
        image[inside] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 3, image.shape)
    return torch.from_numpy(np.clip(image, 0, 255).astype(np.uint8))


def live_tiny_sam() -> SamBackend:
    """tiny-random-sam with its vision encoder initialised at std 0.02 like the rest of the model.

    The catalogue's tiny SAM keeps SamVisionConfig's initializer_range of 1e-10, which makes its
    features (~1e-20) independent of the image; this variant gives bf16 something to disturb.
    """
    spec = CATALOGUE["tiny-random-sam"]
    tiny = copy.deepcopy(spec.tiny)
    tiny["vision_config"]["initializer_range"] = 0.02
    spec = dataclasses.replace(spec, id="tiny-live-sam", tiny=tiny)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = SamModel(SamConfig(**tiny))
    info = ModelInfo(spec.id, spec.family, None, None, "0" * 64, spec.input_size)
    return SamBackend(spec, model, info, torch.device("cpu"))


BACKENDS = {
    "tiny-random-sam": lambda: load_backend("tiny-random-sam", device="cpu"),
    "tiny-random-sam2": lambda: load_backend("tiny-random-sam2", device="cpu"),
    "tiny-live-sam": live_tiny_sam,
}


@pytest.fixture(scope="module", params=list(BACKENDS))
def encoded(request: pytest.FixtureRequest) -> tuple[SamBackend, list[dict], list[dict]]:
    """A backend, and features of 4 structured chips with and without mixed precision."""
    backend = BACKENDS[request.param]()
    chips = [structured_chip(seed) for seed in range(4)]
    mixed = backend.encode(chips, mixed_precision=True)
    full = backend.encode(chips, mixed_precision=False)
    return backend, mixed, full


def mask_ious(backend: SamBackend, features_a: list[dict], features_b: list[dict]) -> list[float]:
    """IoU of the thresholded masks (all 3 per prompt) from two feature sets, over all chips and prompts."""
    ious = []
    for a, b in zip(features_a, features_b, strict=True):
        for prompt in PROMPTS:
            masks_a, _ = backend.decode(a, (SIZE, SIZE), **prompt)
            masks_b, _ = backend.decode(b, (SIZE, SIZE), **prompt)
            for ma, mb in zip(masks_a > 0, masks_b > 0, strict=True):
                union = (ma | mb).sum().item()
                ious.append(1.0 if union == 0 else (ma & mb).sum().item() / union)
    return ious


def test_masks_are_not_trivial(encoded: tuple[SamBackend, list[dict], list[dict]]) -> None:
    """An IoU over empty or full masks would prove nothing."""
    backend, _, full = encoded
    fractions = [(m > 0).float().mean().item()
                 for prompt in PROMPTS for m in backend.decode(full[0], (SIZE, SIZE), **prompt)[0]]
    assert 0.05 < np.mean(fractions) < 0.95
    assert min(fractions) > 0.01 and max(fractions) < 0.99


@needs_reduced_precision
def test_autocast_dtype_on_this_cpu() -> None:
    assert autocast_dtype(torch.device("cpu")) == torch.bfloat16


@needs_reduced_precision
def test_mixed_precision_changes_the_features(encoded: tuple[SamBackend, list[dict], list[dict]]) -> None:
    """Otherwise the IoU test below compares fp32 with fp32."""
    _, mixed, full = encoded
    for m, f in zip(mixed, full, strict=True):
        assert m.keys() == f.keys()
        for name in f:
            assert m[name].dtype == torch.float32 and m[name].shape == f[name].shape
            assert not torch.equal(m[name], f[name])
            scale = f[name].abs().max()
            assert (m[name] - f[name]).abs().max() <= 0.05 * scale


@needs_reduced_precision
def test_mixed_precision_masks_agree(encoded: tuple[SamBackend, list[dict], list[dict]]) -> None:
    backend, mixed, full = encoded
    assert backend.spec.family in MIXED_PRECISION_FAMILIES
    ious = mask_ious(backend, mixed, full)
    assert len(ious) == 4 * len(PROMPTS) * 3
    assert np.mean(ious) >= MIN_IOU, f"mean IoU {np.mean(ious):.4f}, min {np.min(ious):.4f}"


def test_float16_storage_masks_agree(encoded: tuple[SamBackend, list[dict], list[dict]]) -> None:
    backend, _, full = encoded
    stored = [{name: t.to(torch.float16).float() for name, t in f.items()} for f in full]
    ious = mask_ious(backend, stored, full)
    assert np.mean(ious) >= MIN_IOU, f"mean IoU {np.mean(ious):.4f}, min {np.min(ious):.4f}"
