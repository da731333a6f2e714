"""Our torch preprocessing against the `transformers` image processors it reproduces."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import SamImageProcessorPil

from samscape.models import Preprocessing
from samscape.models.preprocess import IMAGENET_MEAN, IMAGENET_STD

S = 256
# One uint8 level after rescale + normalise, in the channel with the smallest std the brief names.
ONE_STEP = 1 / (255 * 0.225) + 1e-4


def hf_sam(image: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    proc = SamImageProcessorPil(size={"longest_edge": S}, pad_size={"height": S, "width": S})
    out = proc(images=image, return_tensors="pt")
    return out["pixel_values"], tuple(int(v) for v in out["reshaped_input_sizes"][0])


def random_image(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("height", "width"), [(S, S), (S, 100), (17, S)])
def test_sam_matches_hf_exactly_without_resizing(height: int, width: int) -> None:
    image = random_image(height, width, seed=height * 1000 + width)
    expected, reshaped = hf_sam(image)
    ours = Preprocessing("sam", S)([torch.from_numpy(image)])
    assert ours.shape == expected.shape == (1, 3, S, S)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)
    assert Preprocessing("sam", S).resized_shape(height, width) == reshaped == (height, width)


@pytest.mark.parametrize(("height", "width"), [(200, 130), (300, 500), (130, 200), (999, 37)])
def test_sam_matches_hf_within_one_level_when_resized(height: int, width: int) -> None:
    image = random_image(height, width, seed=height * 1000 + width)
    expected, reshaped = hf_sam(image)
    pre = Preprocessing("sam", S)
    ours = pre([torch.from_numpy(image)])
    assert ours.shape == expected.shape == (1, 3, S, S)
    assert pre.resized_shape(height, width) == reshaped
    diff = (ours - expected).abs()
    assert diff.max().item() <= ONE_STEP
    # in uint8 levels, per channel: never more than one level apart, and mostly equal
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    levels = diff * std * 255
    assert levels.max().item() <= 1 + 1e-3
    assert (levels > 0.5).float().mean().item() < 0.25
    # bottom/right padding is exactly zero in both
    rh, rw = reshaped
    assert rh == S or rw == S
    assert torch.all(ours[..., rh:, :] == 0) and torch.all(ours[..., :, rw:] == 0)
    assert ours[..., :rh, :rw].abs().sum() > 0


def test_sam_batch_is_per_image() -> None:
    images = [random_image(200, 130, 1), random_image(S, S, 2), random_image(300, 500, 3)]
    pre = Preprocessing("sam", S)
    batch = pre([torch.from_numpy(i) for i in images])
    assert batch.shape == (3, 3, S, S)
    for i, image in enumerate(images):
        torch.testing.assert_close(batch[i : i + 1], pre([torch.from_numpy(image)]), atol=0, rtol=0)


def test_sam2_output_shape() -> None:
    pre = Preprocessing("sam2", S)
    batch = pre([torch.from_numpy(random_image(100, 60, 0)), torch.from_numpy(random_image(S, S, 1))])
    assert batch.shape == (2, 3, S, S)
    assert batch.dtype == torch.float32


def test_sam2_resizes_to_fill_the_square() -> None:
    # a constant-white image: after resizing to the full square, every pixel is (1 - mean) / std
    white = torch.full((100, 60, 3), 255, dtype=torch.uint8)
    pre = Preprocessing("sam2", S)
    assert pre.resized_shape(100, 60) == (S, S)
    out = pre([white])[0]
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out, expected.view(3, 1, 1).expand(3, S, S), atol=1e-5, rtol=0)
    # and a random image has no zero-padded rows or columns anywhere
    noisy = pre([torch.from_numpy(random_image(100, 60, 5))])[0]
    assert (noisy.abs().amax(dim=(0, 1)) > 0).all()
    assert (noisy.abs().amax(dim=(0, 2)) > 0).all()


def test_sam2_keeps_image_layout_when_stretching() -> None:
    # left half dark, right half bright: stretching 60 → 256 columns keeps the halves in place
    image = torch.zeros(100, 60, 3, dtype=torch.uint8)
    image[:, 30:] = 255
    out = Preprocessing("sam2", S)([image])[0]
    low = (0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    high = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out[:, :, : S // 2 - 8], low.view(3, 1, 1).expand(3, S, S // 2 - 8),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(out[:, :, S // 2 + 8 :], high.view(3, 1, 1).expand(3, S, S // 2 - 8),
                               atol=1e-5, rtol=0)


def test_sam2_square_input_is_exactly_normalised() -> None:
    image = random_image(S, S, 7)
    out = Preprocessing("sam2", S)([torch.from_numpy(image)])[0]
    x = torch.from_numpy(image).permute(2, 0, 1).double() / 255
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(3, 1, 1)
    torch.testing.assert_close(out.double(), (x - mean) / std, atol=1e-5, rtol=0)


def test_imagenet_constants() -> None:
    assert IMAGENET_MEAN == pytest.approx((0.485, 0.456, 0.406))
    assert IMAGENET_STD == pytest.approx((0.229, 0.224, 0.225))
    proc = SamImageProcessorPil()
    assert tuple(proc.image_mean) == pytest.approx(IMAGENET_MEAN)
    assert tuple(proc.image_std) == pytest.approx(IMAGENET_STD)


def preprocess_before_the_device_path(pre: Preprocessing, images: list[torch.Tensor]) -> torch.Tensor:
    """The CPU preprocessing as samscape ran it before chips went to the device as uint8: one chip
    at a time, in float32 on the CPU (kept verbatim as the reference of the device path)."""
    size = pre.input_size
    mean = torch.tensor(pre.mean).view(3, 1, 1) * 255.0
    std = torch.tensor(pre.std).view(3, 1, 1) * 255.0
    batch = torch.zeros(len(images), 3, size, size)
    for i, image in enumerate(images):
        x = image.permute(2, 0, 1).float()
        h, w = pre.resized_shape(*x.shape[1:])
        if (h, w) != tuple(x.shape[1:]):
            x = torch.nn.functional.interpolate(x[None], size=(h, w), mode="bilinear", antialias=True,
                                                align_corners=False)[0]
            x = x.round().clamp(0, 255)
        batch[i, :, :h, :w] = (x - mean) / std
    return batch


@pytest.mark.parametrize("family", ["sam", "sam2"])
@pytest.mark.parametrize("shapes", [[(S, S)] * 3, [(512, 512)] * 2, [(S, 100), (S, 100)],
                                    [(300, 500), (S, S), (130, 200), (300, 500)]],
                         ids=["square", "downsized", "edge", "mixed"])
def test_the_device_path_on_the_cpu_device_equals_the_cpu_path_before_it(family, shapes) -> None:
    images = [torch.from_numpy(random_image(h, w, seed=k)) for k, (h, w) in enumerate(shapes)]
    pre = Preprocessing(family, S)
    ours = pre(images, torch.device("cpu"))
    before = preprocess_before_the_device_path(pre, images)
    assert ours.shape == before.shape == (len(images), 3, S, S)
    assert ours.dtype == torch.float32 and ours.device.type == "cpu"
    assert torch.equal(ours, before)  # the same float32 operations, batched per shape
