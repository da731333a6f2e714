"""Image preprocessing for SAM-family encoders, in torch, on the model's device: resize, rescale,
normalise, pad.

It reproduces the `transformers` image processors: SAM resizes the longest side to the input
size and pads bottom/right with zeros after normalising; SAM 2 resizes to the square input size.
Chips travel to the device as uint8 (a quarter of the bytes of float32; on CUDA from pinned
memory, without blocking) and every step after that runs there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .catalogue import Family

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, slots=True)
class Preprocessing:
    """What the encoder saw: the family's resize rule, the input size, and the normalisation."""

    family: Family
    input_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def resized_shape(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of a chip of `height`×`width` after resizing, before padding."""
        if self.family == "sam2":
            return self.input_size, self.input_size
        scale = self.input_size / max(height, width)
        return int(height * scale + 0.5), int(width * scale + 0.5)

    def __call__(self, images: list[torch.Tensor], device: torch.device | None = None) -> torch.Tensor:
        """A list of (H, W, 3) uint8 CPU chips → (B, 3, S, S) float32 model input on `device`
        (default the CPU). Chips of one shape are resized as one batch; the values equal those of
        preprocessing each chip on its own."""
        device = torch.device("cpu") if device is None else device
        size = self.input_size
        # the constants first: a blocking copy would wait for the chips' uploads
        mean = (torch.tensor(self.mean).view(1, 3, 1, 1) * 255.0).to(device)
        std = (torch.tensor(self.std).view(1, 3, 1, 1) * 255.0).to(device)
        uploaded = [upload(image, device) for image in images]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(uploaded):
            groups.setdefault((image.shape[0], image.shape[1]), []).append(i)
        batch: torch.Tensor | None = None
        for (height, width), members in groups.items():
            x = torch.stack([uploaded[i] for i in members]).permute(0, 3, 1, 2).float()
            h, w = self.resized_shape(height, width)
            if (h, w) != (height, width):
                x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
                x = x.round().clamp(0, 255)
            x = (x - mean) / std
            if len(groups) == 1 and (h, w) == (size, size):
                return x.contiguous()
            if batch is None:
                batch = torch.zeros(len(images), 3, size, size, device=device)
            for j, i in enumerate(members):
                batch[i, :, :h, :w] = x[j]
        return batch if batch is not None else torch.zeros(0, 3, size, size, device=device)


def upload(image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device`: on CUDA copied from pinned memory without blocking (pinned here
    if it is not yet), elsewhere as it is."""
    if device.type == "cuda":
        pinned = image if image.is_pinned() else image.pin_memory()
        return pinned.to(device, non_blocking=True)
    return image.to(device)
