"""Image preprocessing for SAM-family encoders, in torch: resize, rescale, normalise, pad.

It reproduces the `transformers` image processors: SAM resizes the longest side to the input
size and pads bottom/right with zeros after normalising; SAM 2 resizes to the square input size.
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

    def __call__(self, images: list[torch.Tensor]) -> torch.Tensor:
        """A list of (H, W, 3) uint8 chips → (B, 3, S, S) float32 model input."""
        size = self.input_size
        mean = torch.tensor(self.mean).view(3, 1, 1) * 255.0
        std = torch.tensor(self.std).view(3, 1, 1) * 255.0
        batch = torch.zeros(len(images), 3, size, size)
        for i, image in enumerate(images):
            x = image.permute(2, 0, 1).float()
            h, w = self.resized_shape(*x.shape[1:])
            if (h, w) != tuple(x.shape[1:]):
                x = F.interpolate(x[None], size=(h, w), mode="bilinear", antialias=True,
                                  align_corners=False)[0]
                x = x.round().clamp(0, 255)
            batch[i, :, :h, :w] = (x - mean) / std
        return batch
