"""The cached decoder path equals the transformers reference: logits within float tolerance, for
SAM and SAM 2, with the catalogue's small models and ViT-B-width decoders; identical polygons from
the trained demo model, and identical masks wherever the reference's logit is farther from 0 than
the tolerance.

Random-weight decoders draw noise: logits of a few hundredths with a tenth of the pixels within
1e-4 of 0, so a summation order that differs in the 7th digit (the low-rank attention) flips a
pixel or two; a trained decoder's logits cross 0 steeply at object edges."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import torch
from affine import Affine
from transformers import Sam2Config, Sam2Model, SamConfig, SamModel

from samscape.errors import DecoderLayoutError
from samscape.models import ModelInfo, PreparedChip, SamBackend, load_backend
from samscape.models.catalogue import ModelSpec
from samscape.models.decoder import CachedDecoder, check_layout
from samscape.vector import VectorOptions, mask_to_polygons

BIG = 1024


def vit_b_width(family: str) -> SamBackend:
    """A model with a tiny image encoder but the decoder and prompt encoder of SAM ViT-B / SAM 2.1
    (width 256, 64 × 64 embeddings at 1024 px), random weights: the decoder is what is tested."""
    torch.manual_seed(0)
    if family == "sam":
        model = SamModel(SamConfig(vision_config={
            "hidden_size": 32, "output_channels": 256, "num_hidden_layers": 1, "num_attention_heads": 2,
            "mlp_dim": 64, "global_attn_indexes": [0], "window_size": 4}))
    else:
        model = Sam2Model(Sam2Config(vision_config={
            "backbone_config": {
                "model_type": "sam2_hiera_det_model", "hidden_size": 16, "image_size": [BIG, BIG],
                "blocks_per_stage": [1, 1, 1, 1], "embed_dim_per_stage": [16, 32, 64, 128],
                "num_attention_heads_per_stage": [1, 1, 2, 2], "window_size_per_stage": [8, 4, 4, 2],
                "global_attention_blocks": [3], "window_positional_embedding_background_size": [4, 4]},
            "backbone_channel_list": [128, 64, 32, 16],
            "backbone_feature_sizes": [[BIG // 4] * 2, [BIG // 8] * 2, [BIG // 16] * 2],
            "fpn_hidden_size": 256}))
    spec = ModelSpec(f"vit-b-width-{family}", family, BIG, "test")  # type: ignore[arg-type]
    info = ModelInfo(spec.id, family, None, None, "0" * 64, BIG)
    return SamBackend(spec, model, info, torch.device("cpu"))


def random_features(backend: SamBackend, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=g) for name, shape in backend.feature_shapes().items()}


def prompts(size: int) -> list[dict]:
    s = size / 256
    many = torch.tensor([[20.0 + 15 * i, 30.0 + 11 * i] for i in range(14)]) * s
    return [
        {"points": torch.tensor([[90.0, 128.0]]) * s},
        {"points": torch.tensor([[90.0, 128.0], [10.0, 240.0]]) * s, "labels": torch.tensor([1, 0])},
        {"box": torch.tensor([20.0, 30.0, 160.0, 220.0]) * s},
        {"box": torch.tensor([20.0, 30.0, 160.0, 220.0]) * s, "points": torch.tensor([[90.0, 128.0]]) * s},
        {"points": many, "labels": torch.tensor([1, 0] * 7)},
    ]


def polygon_keys(logits: torch.Tensor) -> list[list[bytes]]:
    options = VectorOptions(min_pixels=0)
    return [sorted(shapely.to_wkb(shapely.normalize(p)) for p in
                   mask_to_polygons(m.numpy() > 0, Affine.identity(), options)) for m in logits]


def assert_same(backend: SamBackend, features: dict, chip: tuple[int, int], prompt: dict,
                multimask: bool, prepared: PreparedChip) -> None:
    ours, our_iou = backend.decode_low_res(prepared, chip, multimask=multimask, **prompt)
    ref, ref_iou = backend.reference_low_res(features, chip, multimask=multimask, **prompt)
    assert ours.shape == ref.shape and our_iou.shape == ref_iou.shape
    tolerance = 1e-5 * float(ref.abs().max())
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=tolerance)
    torch.testing.assert_close(our_iou, ref_iou, rtol=1e-4, atol=1e-6)
    ours_up, ref_up = backend.upscale(ours, chip), backend.upscale(ref, chip)
    if backend.spec.id == "demo":
        assert polygon_keys(ours_up) == polygon_keys(ref_up)
    clear = ref_up.abs() > tolerance
    assert torch.equal((ours_up > 0)[clear], (ref_up > 0)[clear])


@pytest.mark.parametrize("model_id", ["tiny-random-sam", "tiny-random-sam2", "demo"])
def test_cached_decoder_equals_reference(model_id: str) -> None:
    backend = load_backend(model_id, device="cpu")
    assert backend.cached is not None, "the cached decoder no longer fits this transformers version"
    size = backend.spec.input_size
    g = torch.Generator().manual_seed(1)
    image = torch.randint(0, 256, (size, size - 40, 3), dtype=torch.uint8, generator=g)
    encoded = backend.encode([image], mixed_precision=False)[0]
    for features, chip in ((encoded, (size, size - 40)), (random_features(backend, 2), (size, size))):
        prepared = backend.prepare(features)
        assert isinstance(prepared, PreparedChip)
        for prompt in prompts(size):
            for multimask in (True, False):
                assert_same(backend, features, chip, prompt, multimask, prepared)


@pytest.mark.parametrize("family", ["sam", "sam2"])
def test_cached_decoder_equals_reference_at_vit_b_width(family: str) -> None:
    backend = vit_b_width(family)
    assert backend.cached is not None
    features = random_features(backend, 3)
    prepared = backend.prepare(features)
    assert isinstance(prepared, PreparedChip)
    assert prepared.keys.shape == (64 * 64, 256)
    two_points, _, box_and_point, many = prompts(BIG)[1:5]
    low_rank = backend.cached.low_rank.values()  # type: ignore[union-attr]
    assert all(a.helps(5 + 3) and not a.helps(5 + 15) for a in low_rank)  # heads 16 wide
    assert_same(backend, features, (BIG, BIG), two_points, multimask=False, prepared=prepared)
    assert_same(backend, features, (BIG, BIG), box_and_point, multimask=True, prepared=prepared)
    assert_same(backend, features, (BIG, BIG), many, multimask=True, prepared=prepared)


def test_decode_prepares_features_given_as_a_dict() -> None:
    backend = load_backend("tiny-random-sam2", device="cpu")
    features = random_features(backend, 4)
    prompt = prompts(256)[1]
    from_dict = backend.decode_low_res(features, (256, 256), **prompt)
    from_prepared = backend.decode_low_res(backend.prepare(features), (256, 256), **prompt)
    assert all(torch.equal(a, b) for a, b in zip(from_dict, from_prepared, strict=True))


def test_a_changed_decoder_layout_is_refused() -> None:
    backend = vit_b_width("sam")
    decoder = backend.model.mask_decoder
    conv = decoder.upscale_conv1
    decoder.upscale_conv1 = torch.nn.ConvTranspose2d(conv.in_channels, conv.out_channels, 4, 2, padding=1)
    try:
        with pytest.raises(DecoderLayoutError, match="2×2 stride-2"):
            check_layout(backend.model, "sam")
        with pytest.raises(DecoderLayoutError, match="mask decoder is"):
            CachedDecoder(backend.model, "sam2")
    finally:
        decoder.upscale_conv1 = conv
    del decoder.transformer.layers[1].cross_attn_image_to_token
    with pytest.raises(DecoderLayoutError, match="block 1 has no cross_attn_image_to_token"):
        check_layout(backend.model, "sam")


def test_prepared_chip_size() -> None:
    backend = vit_b_width("sam2")
    prepared = backend.prepare(random_features(backend, 5))
    assert isinstance(prepared, PreparedChip)
    tensors = [prepared.keys, prepared.first_keys, prepared.first_values,
               *(prepared.high_res or ())]
    assert prepared.nbytes == sum(t.nbytes for t in tensors) > 0
    assert np.prod(prepared.high_res[1].shape) == 32 * BIG // 4 * BIG // 4  # type: ignore[index]
