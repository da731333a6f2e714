"""Geo-SAM's pixel mapping between a chip and the model, as its decoder path runs it.

Geo-SAM encodes a chip through Ultralytics' SAM / SAM 2 predictor: the chip is resized so its
long side is the model input size S (`r = min(S / h, S / w)`), placed top-left and padded
(`LetterBox(center=False)`), for SAM 2 too. A prompt goes in as the continuous chip coordinate
(pixel i spans [i, i + 1)) times r (`Predictor._prepare_prompts`); the prompt encoder then adds
0.5 as for a pixel index. Masks come back as `Predictor.inference_features` post-processes the
decoder's (m, m) logits: the rows and columns holding the chip are taken and resized to the chip
(`ops.scale_masks` with the letterbox gain, no padding), by `grid_sample` where that span ends
mid-pixel. samscape's own folders map as the `transformers` processors do (pixel indices; SAM 2
resized to a square), so a source of Geo-SAM features decodes through this instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from ...models import PreparedChip, SamBackend


@dataclass(frozen=True, slots=True)
class LetterboxMapping:
    """Ultralytics' letterbox mapping for a model of input size `input_size` (S)."""

    input_size: int

    def gain(self, chip_shape: tuple[int, int]) -> float:
        """r: chip pixels → model input pixels."""
        height, width = chip_shape
        return min(self.input_size / height, self.input_size / width)

    def decode_low_res(self, backend: SamBackend, features: dict[str, torch.Tensor] | PreparedChip,
                       chip_shape: tuple[int, int], points: torch.Tensor | None,
                       labels: torch.Tensor | None, box: torch.Tensor | None, multimask: bool
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """`SamBackend.decode_low_res` with prompts mapped as Geo-SAM maps them. Points (N, 2) XY
        and box (4,) XYXY come in samscape's chip pixel indices (continuous − 0.5)."""
        r = self.gain(chip_shape)
        square = (self.input_size, self.input_size)  # the backend then scales by exactly 1
        mapped_points = None if points is None else (points.double() + 0.5) * r
        mapped_box = None if box is None else (box.double() + 0.5) * r
        return backend.decode_low_res(features, square, mapped_points, labels, mapped_box,
                                      multimask=multimask)

    def upscale(self, low_res: torch.Tensor, chip_shape: tuple[int, int]) -> torch.Tensor:
        """(M, m, m) decoder logits → (M, h, w) logits on the chip, as Ultralytics does."""
        import torch
        import torch.nn.functional as F

        height, width = chip_shape
        m_h, m_w = low_res.shape[-2:]
        if (m_h, m_w) == (height, width):
            return low_res
        size = self.input_size
        gain = self.gain(chip_shape)
        ratio_h = round(height * gain) * m_h / size / height
        ratio_w = round(width * gain) * m_w / size / width
        bottom, right = max(round(height * ratio_h), 1), max(round(width * ratio_w), 1)
        masks = low_res[None].float()
        with torch.inference_mode():
            if abs(height * ratio_h - bottom) + abs(width * ratio_w - right) > 1e-3:
                sh, sw = height * ratio_h / m_h, width * ratio_w / m_w
                theta = masks.new_tensor([[[sw, 0, sw - 1], [0, sh, sh - 1]]])
                grid = F.affine_grid(theta, [1, 1, height, width], align_corners=False)
                return F.grid_sample(masks, grid, mode="bilinear", padding_mode="border",
                                     align_corners=False)[0]
            return F.interpolate(masks[..., :bottom, :right], (height, width), mode="bilinear",
                                 align_corners=False)[0]
