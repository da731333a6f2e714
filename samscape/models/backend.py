"""The `transformers` backend: one object per loaded model that encodes chips and decodes prompts."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import AttentionLayoutError, DecoderLayoutError, DeviceError
from . import attention
from .catalogue import ModelSpec
from .compiling import CompiledEmbedding
from .decoder import CachedDecoder, PreparedChip
from .preprocess import Preprocessing

log = logging.getLogger(__name__)

# Sam2Model.get_image_embeddings order: two high-resolution maps (stride 4, 8), then stride 16.
SAM2_FEATURES = ("high_res_feats_0", "high_res_feats_1", "image_embeddings")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Provenance of loaded weights, as recorded in every feature folder."""

    id: str
    family: str
    repository: str | None
    revision: str | None
    weights_sha256: str
    input_size: int

    def to_dict(self) -> dict:
        return asdict(self)


def pick_device(name: str = "auto") -> torch.device:
    """'auto' → cuda, then mps, then cpu; an explicit name must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if name not in available:
        raise DeviceError(f"unknown device {name!r}; use auto, cpu, cuda or mps")
    if not available[name]:
        raise DeviceError(f"device {name!r} is not available on this machine; use --device auto")
    return torch.device(name)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision worth using on `device`, or None where it would be slower."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16 if _cpu_has_fast_bf16() else None


ENCODE_STAGES = ("upload", "model", "download")
"""`SamBackend.encode`'s steps: chips to the device and preprocessed there; the model; features
cast and copied back."""


class _StageClock:
    """Busy seconds of `ENCODE_STAGES`, added to `seconds` (if given): on CUDA from events recorded
    on the current stream, read after one wait for the last of them (which `encode` needs anyway);
    elsewhere from `time.perf_counter`, the steps being synchronous there."""

    def __init__(self, device: torch.device, seconds: dict[str, float] | None) -> None:
        self.cuda = device.type == "cuda"
        self.seconds = seconds
        self.marks: list[tuple[str, Any]] = [("", self._now())]

    def _now(self) -> Any:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True, blocking=True)
            event.record()
            return event
        return time.perf_counter()

    def mark(self, stage: str) -> None:
        """`stage` ends now."""
        if self.cuda or self.seconds is not None:
            self.marks.append((stage, self._now()))

    def finish(self) -> None:
        """Wait for the device's work (on CUDA), then add each stage's seconds."""
        if self.cuda:
            self.marks[-1][1].synchronize()
        if self.seconds is None:
            return
        for (_, start), (stage, end) in pairwise(self.marks):
            spent = start.elapsed_time(end) / 1000 if self.cuda else end - start
            self.seconds[stage] = self.seconds.get(stage, 0.0) + spent


def _cpu_has_fast_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class SamBackend:
    """A SAM or SAM 2 model from `transformers`, in eval mode on one device.

    `encode` turns chips into per-chip feature dicts; `prepare` turns one chip's features into
    what the decoder reuses for every prompt on it; `decode` turns features (or a prepared chip)
    and prompts (in chip pixel coordinates, x then y) into masks at the chip's size.
    `cached` is the decoder path of `models.decoder` (None where this transformers version lays
    the decoder out otherwise: then the model's own forward decodes). `fused_attention` says
    whether the image encoder's attention runs through `models.attention` (False where this
    transformers version lays it out otherwise, or where the caller turned it off).
    """

    def __init__(self, spec: ModelSpec, model: torch.nn.Module, info: ModelInfo,
                 device: torch.device, fused_attention: bool = True) -> None:
        self.spec = spec
        self.info = info
        self.device = device
        # Any: attributes of a transformers SamModel / Sam2Model are typed Tensor | Module
        self.model: Any = model.to(device).eval()
        self.preprocessing = Preprocessing(spec.family, spec.input_size)
        self.fused_attention = False
        if fused_attention:
            try:
                self.fused_attention = attention.install(self.model, spec.family) > 0
            except AttentionLayoutError as exc:
                log.warning("%s", exc)
        self.cached: CachedDecoder | None = None
        try:
            self.cached = CachedDecoder(self.model, spec.family)
        except DecoderLayoutError as exc:
            log.warning("%s; decoding with the model's own forward", exc)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return SAM2_FEATURES if self.spec.family == "sam2" else ("image_embeddings",)

    def feature_shapes(self) -> dict[str, tuple[int, int, int]]:
        """Shape (C, H, W) of each stored feature tensor of one chip, from the model's config
        (running the encoder to find out would cost a whole chip's encoding)."""
        config = self.model.config
        if self.spec.family == "sam2":
            decoder = self.model.mask_decoder
            sizes = config.vision_config.backbone_feature_sizes
            channels = (decoder.conv_s0.out_channels, decoder.conv_s1.out_channels,
                        config.vision_config.fpn_hidden_size)
            return {name: (c, *size) for name, c, size in zip(SAM2_FEATURES, channels, sizes, strict=True)}
        side = self.spec.input_size // config.vision_config.patch_size
        return {"image_embeddings": (config.vision_config.output_channels, side, side)}

    def encode(self, chips: list[torch.Tensor], mixed_precision: bool = True,
               dtype: torch.dtype = torch.float32, seconds: dict[str, float] | None = None
               ) -> list[dict[str, torch.Tensor]]:
        """(H, W, 3) uint8 CPU chips → one dict of (C, h, w) CPU feature tensors of `dtype` per chip,
        each holding only its own storage.

        The chips go to the device as uint8 and are preprocessed there; the features are cast to
        `dtype` there before they come back (on CUDA into pinned memory, waited for before this
        returns). seconds: if given, the busy seconds of each step are added to it under
        `ENCODE_STAGES` (on CUDA timed with events on the stream, so they count device time).
        """
        clock = _StageClock(self.device, seconds)
        with torch.inference_mode():
            pixels = self.preprocessing(chips, self.device)
            clock.mark("upload")
            reduced = autocast_dtype(self.device) if mixed_precision else None
            autocast = (torch.autocast(self.device.type, dtype=reduced) if reduced
                        else contextlib.nullcontext())
            with autocast:
                features = self._embed(pixels)
            clock.mark("model")
        host = self._download(features, dtype)  # ordinary tensors, not inference ones
        clock.mark("download")
        clock.finish()
        return host

    def _download(self, features: dict[str, torch.Tensor], dtype: torch.dtype
                  ) -> list[dict[str, torch.Tensor]]:
        """(B, C, h, w) device features → per chip a contiguous (C, h, w) CPU tensor of `dtype`
        with its own storage (a view would make torch.save store the whole batch), cast on the
        device (on the CPU while copying); on CUDA copied into pinned memory without blocking
        (the caller waits)."""
        cuda = self.device.type == "cuda"
        chips: list[dict[str, torch.Tensor]] = [{} for _ in range(len(next(iter(features.values()))))]
        for name, batch in features.items():
            if self.device.type != "cpu":
                batch = batch.to(dtype)
            for i, chip in enumerate(chips):
                chip[name] = torch.empty(batch.shape[1:], dtype=dtype, pin_memory=cuda)
                chip[name].copy_(batch[i], non_blocking=cuda)
        return chips

    def compile(self, batch_size: int) -> CompiledEmbedding:
        """Compile the image encoder (torch.compile, on its first call) for batches of
        `batch_size`; see `models.compiling`. Once per backend: later calls return the first."""
        current = self.model.get_image_embeddings
        if not isinstance(current, CompiledEmbedding):
            current = self.model.get_image_embeddings = CompiledEmbedding(current, batch_size)
        return current

    def _embed(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.model.get_image_embeddings(pixels)
        if self.spec.family == "sam2":
            return dict(zip(SAM2_FEATURES, out, strict=True))
        return {"image_embeddings": out}

    def prepare(self, features: dict[str, torch.Tensor]) -> PreparedChip | dict[str, torch.Tensor]:
        """One chip's (C, h, w) features → the decoder's prompt-independent inputs for it (the
        features themselves where the model's own forward decodes)."""
        if self.cached is None:
            return features
        return self.cached.prepare(*self._decoder_inputs(features))

    def _decoder_inputs(self, features: dict[str, torch.Tensor]
                        ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """(C, h, w) image embeddings and SAM 2's (stride 4, stride 8) maps, on the device."""
        embeddings = [features[n].float().to(self.device) for n in self.feature_names]
        return embeddings[-1], (embeddings[0], embeddings[1]) if self.spec.family == "sam2" else None

    def decode(self, features: dict[str, torch.Tensor] | PreparedChip, chip_shape: tuple[int, int],
               **prompts) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks for one chip: mask logits (M, H, W) at chip size and the predicted IoU (M,).

        `prompts` as for `decode_low_res` (points, labels, box, multimask).
        """
        low_res, iou = self.decode_low_res(features, chip_shape, **prompts)
        return self.upscale(low_res, chip_shape), iou

    def decode_low_res(
        self,
        features: dict[str, torch.Tensor] | PreparedChip,
        chip_shape: tuple[int, int],
        points: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        box: torch.Tensor | None = None,
        multimask: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's own output for one chip: mask logits (M, 256, 256) and IoU (M,).

        features: one chip's feature dict of (C, h, w) tensors, or `prepare`'s result for it (the
        fast way to decode many prompts on one chip); chip_shape: (height, width) as read;
        points: (N, 2) XY in chip pixel indices (SAM's convention: pixel centres at +0.5);
        labels: (N,) 1 foreground / 0 background (default all 1); box: (4,) XYXY in chip pixels.
        """
        if isinstance(features, dict):
            if self.cached is None:
                return self.reference_low_res(features, chip_shape, points, labels, box, multimask)
            features = self.cached.prepare(*self._decoder_inputs(features))
        if self.cached is None:
            raise DecoderLayoutError("a prepared chip needs the cached decoder; pass the chip's features")
        prompts = self._model_prompts(chip_shape, points, labels, box)
        masks, iou = self.cached.decode(features, multimask, **prompts)
        return masks.float().cpu(), iou.float().cpu()

    def reference_low_res(
        self,
        features: dict[str, torch.Tensor],
        chip_shape: tuple[int, int],
        points: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        box: torch.Tensor | None = None,
        multimask: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`decode_low_res` through the model's own forward (the reference the cached path equals)."""
        kwargs = self._model_prompts(chip_shape, points, labels, box)
        embeddings = [features[n].float()[None].to(self.device) for n in self.feature_names]
        with torch.inference_mode():
            out = self.model(
                image_embeddings=embeddings if self.spec.family == "sam2" else embeddings[0],
                multimask_output=multimask, **kwargs,
            )
        return out.pred_masks[0, 0].float().cpu(), out.iou_scores[0, 0].float().cpu()

    def _model_prompts(self, chip_shape: tuple[int, int], points: torch.Tensor | None,
                       labels: torch.Tensor | None, box: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Prompts in chip pixels → the model's input_points (1, 1, N, 2), input_labels (1, 1, N)
        and input_boxes (1, 1, 4), in the model's input pixels."""
        height, width = chip_shape
        rh, rw = self.preprocessing.resized_shape(height, width)
        scale = torch.tensor([rw / width, rh / height])
        kwargs: dict[str, torch.Tensor] = {}
        if points is not None and len(points):
            kwargs["input_points"] = (points.float() * scale).view(1, 1, -1, 2).to(self.device)
            labels = torch.ones(len(points)) if labels is None else labels
            kwargs["input_labels"] = labels.long().view(1, 1, -1).to(self.device)
        if box is not None:
            kwargs["input_boxes"] = (box.float().view(2, 2) * scale).view(1, 1, 4).to(self.device)
        return kwargs

    def upscale(self, low_res: torch.Tensor, chip_shape: tuple[int, int]) -> torch.Tensor:
        """(M, 256, 256) decoder logits → (M, H, W) logits at chip size, as each family's own
        post-processing does: SAM to the model's input size, crop the padding, to the chip's size;
        SAM 2 (no padding) straight to the chip's size. A resize to the same size is skipped: for
        finite logits it is the identity (the demo model's 256² chips)."""
        height, width = chip_shape
        rh, rw = self.preprocessing.resized_shape(height, width)
        size = self.spec.input_size
        with torch.inference_mode():
            if self.spec.family == "sam2":
                if tuple(low_res.shape[-2:]) == (height, width):
                    return low_res
                return F.interpolate(low_res[None], (height, width), mode="bilinear",
                                     align_corners=False)[0]
            masks = low_res[None]
            if tuple(low_res.shape[-2:]) != (size, size):
                masks = F.interpolate(masks, (size, size), mode="bilinear", align_corners=False)
            if (rh, rw, height, width) != (size, size, size, size):
                masks = F.interpolate(masks[..., :rh, :rw], (height, width), mode="bilinear",
                                      align_corners=False)
        return masks[0]
