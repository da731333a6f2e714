"""Device choice, feature shapes, and prompt decoding at the chip's own size."""

from __future__ import annotations

import pytest
import torch

from samscape.errors import DeviceError
from samscape.models import SamBackend, load_backend, pick_device
from samscape.models.backend import SAM2_FEATURES

TINY_IDS = ["tiny-random-sam", "tiny-random-sam2"]


@pytest.fixture(scope="module", params=TINY_IDS)
def backend(request: pytest.FixtureRequest) -> SamBackend:
    return load_backend(request.param, device="cpu")


def chip(height: int, width: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (height, width, 3), dtype=torch.uint8, generator=g)


def test_pick_device_cpu() -> None:
    assert pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available() or torch.backends.mps.is_available(),
                    reason="auto picks an accelerator here")
def test_pick_device_auto_is_cpu_without_accelerator() -> None:
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="cuda is available here")
def test_pick_device_cuda_unavailable() -> None:
    with pytest.raises(DeviceError, match="'cuda' is not available"):
        pick_device("cuda")
    with pytest.raises(DeviceError):
        load_backend("tiny-random-sam", device="cuda")


@pytest.mark.parametrize("name", ["gpu", "CUDA", "tpu", "", "cuda:0"])
def test_pick_device_unknown(name: str) -> None:
    with pytest.raises(DeviceError, match="unknown device"):
        pick_device(name)


def test_backend_is_eval_on_device(backend: SamBackend) -> None:
    assert backend.device == torch.device("cpu")
    assert not backend.model.training
    assert backend.preprocessing.family == backend.spec.family
    assert backend.preprocessing.input_size == backend.spec.input_size == 256


def test_feature_names(backend: SamBackend) -> None:
    if backend.spec.family == "sam2":
        assert backend.feature_names == SAM2_FEATURES
    else:
        assert backend.feature_names == ("image_embeddings",)


def test_feature_shapes_match_encode(backend: SamBackend) -> None:
    shapes = backend.feature_shapes()
    assert tuple(shapes) == backend.feature_names
    features = backend.encode([chip(256, 256, 0), chip(256, 180, 1), chip(100, 256, 2)],
                              mixed_precision=False)
    assert len(features) == 3
    for per_chip in features:
        assert {name: tuple(t.shape) for name, t in per_chip.items()} == shapes
        for t in per_chip.values():
            assert t.dtype == torch.float32 and t.device.type == "cpu"
            assert torch.isfinite(t).all()
    # stride 16 embeddings, and for SAM 2 the stride 4 and 8 maps
    assert shapes["image_embeddings"][1:] == (16, 16)
    if backend.spec.family == "sam2":
        assert shapes["high_res_feats_0"][1:] == (64, 64)
        assert shapes["high_res_feats_1"][1:] == (32, 32)


def test_encode_is_per_chip(backend: SamBackend) -> None:
    a, b = chip(256, 256, 3), chip(256, 256, 4)
    together = backend.encode([a, b], mixed_precision=False)
    alone = backend.encode([b], mixed_precision=False)
    for name in backend.feature_names:
        torch.testing.assert_close(together[1][name], alone[0][name], atol=1e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def narrow(backend: SamBackend) -> tuple[SamBackend, dict[str, torch.Tensor]]:
    """Features of a 256 × 180 (height × width) chip as read."""
    return backend, backend.encode([chip(256, 180, 5)])[0]


@pytest.mark.parametrize("prompt", ["point", "points", "box", "box+point"])
def test_decode_multimask_at_chip_size(narrow: tuple[SamBackend, dict], prompt: str) -> None:
    backend, features = narrow
    kwargs: dict = {}
    if prompt == "point":
        kwargs = {"points": torch.tensor([[90.0, 128.0]]), "labels": torch.tensor([1])}
    elif prompt == "points":
        kwargs = {"points": torch.tensor([[90.0, 128.0], [10.0, 240.0]]), "labels": torch.tensor([1, 0])}
    elif prompt == "box":
        kwargs = {"box": torch.tensor([20.0, 30.0, 160.0, 220.0])}
    else:
        kwargs = {"box": torch.tensor([20.0, 30.0, 160.0, 220.0]),
                  "points": torch.tensor([[90.0, 128.0]]), "labels": torch.tensor([1])}
    masks, scores = backend.decode(features, (256, 180), **kwargs)
    assert masks.shape == (3, 256, 180)
    assert scores.shape == (3,)
    assert masks.dtype == torch.float32 and scores.dtype == torch.float32
    assert torch.isfinite(masks).all() and torch.isfinite(scores).all()


@pytest.mark.parametrize("prompt", ["point", "box"])
def test_decode_single_mask(narrow: tuple[SamBackend, dict], prompt: str) -> None:
    backend, features = narrow
    kwargs = ({"points": torch.tensor([[90.0, 128.0]]), "labels": torch.tensor([1])} if prompt == "point"
              else {"box": torch.tensor([20.0, 30.0, 160.0, 220.0])})
    masks, scores = backend.decode(features, (256, 180), multimask=False, **kwargs)
    assert masks.shape == (1, 256, 180)
    assert scores.shape == (1,)


def test_decode_depends_on_the_prompt(narrow: tuple[SamBackend, dict]) -> None:
    backend, features = narrow
    one = torch.tensor([1])
    a, _ = backend.decode(features, (256, 180), points=torch.tensor([[20.0, 20.0]]), labels=one)
    b, _ = backend.decode(features, (256, 180), points=torch.tensor([[160.0, 240.0]]), labels=one)
    assert not torch.equal(a, b)


def test_decode_other_chip_sizes(backend: SamBackend) -> None:
    # a wide chip (height < width) and a chip smaller than the input size
    for shape in [(120, 256), (64, 96)]:
        features = backend.encode([chip(*shape, seed=9)])[0]
        box = torch.tensor([5.0, 5.0, shape[1] - 5.0, shape[0] - 5.0])
        masks, _ = backend.decode(features, shape, box=box)
        assert masks.shape == (3, *shape)


def test_upscale_equals_the_families_resize_chain(backend: SamBackend) -> None:
    # the resizes to the same size that upscale skips change no logit
    import torch.nn.functional as F

    size = backend.spec.input_size
    g = torch.Generator().manual_seed(3)
    low_res = torch.randn(3, 256, 256, generator=g) * 40
    for shape in [(256, 256), (size, size), (120, 256), (64, 96)]:
        if backend.spec.family == "sam2":
            expected = F.interpolate(low_res[None], shape, mode="bilinear", align_corners=False)[0]
        else:
            rh, rw = backend.preprocessing.resized_shape(*shape)
            full = F.interpolate(low_res[None], (size, size), mode="bilinear", align_corners=False)
            expected = F.interpolate(full[..., :rh, :rw], shape, mode="bilinear", align_corners=False)[0]
        assert torch.equal(backend.upscale(low_res, shape), expected)
