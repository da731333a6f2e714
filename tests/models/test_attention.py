"""The fused image-encoder attention (`models.attention`) against transformers' own modules.

Models have random weights with relative position tables drawn at std 0.5 (zeros at init would
make the bias vanish). "ViT-B-sized" is SAM ViT-B's encoder (768 wide, 12 layers, 12 heads,
window 14, global layers 2, 5, 8, 11) at 256 px instead of 1024 to keep the test short, its neck
narrowed to the tiny decoder's 32 channels; the tiny SAM at 1024 px makes the global layer's bias
run in 2 blocks of query rows.
"""

from __future__ import annotations

import copy
import dataclasses
import logging

import numpy as np
import pytest
import torch
from test_precision import PROMPTS, SIZE, mask_ious, structured_chip
from transformers import Sam2Config, Sam2Model, SamConfig, SamModel

from samscape.errors import AttentionLayoutError
from samscape.models import CATALOGUE, ModelInfo, SamBackend, attention, load_backend

VIT_B = {"hidden_size": 768, "output_channels": 32, "num_hidden_layers": 12,
         "num_attention_heads": 12, "mlp_dim": 3072, "window_size": 14,
         "global_attn_indexes": [2, 5, 8, 11], "patch_size": 16}


def sam_model(vision: dict, size: int = SIZE) -> SamModel:
    tiny = copy.deepcopy(CATALOGUE["tiny-random-sam"].tiny)
    tiny["vision_config"].update(vision, image_size=size, initializer_range=0.02, use_rel_pos=True)
    tiny["prompt_encoder_config"]["image_size"] = size
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = SamModel(SamConfig(**tiny))
        for name, p in model.named_parameters():
            if "rel_pos" in name:
                torch.nn.init.normal_(p, std=0.5)
    return model.eval()


def backend(model: torch.nn.Module, fused: bool, size: int = SIZE) -> SamBackend:
    spec = dataclasses.replace(CATALOGUE["tiny-random-sam"], id="test-attention", input_size=size)
    info = ModelInfo(spec.id, spec.family, None, None, "0" * 64, size)
    return SamBackend(spec, copy.deepcopy(model), info, torch.device("cpu"), fused_attention=fused)


def attention_modules(b: SamBackend) -> list[torch.nn.Module]:
    return [m for m in b.model.vision_encoder.modules() if "Attention" in type(m).__name__]


@pytest.mark.parametrize("model_id", ["tiny-random-sam", "tiny-random-sam2"])
def test_fast_path_is_active_for_the_installed_transformers(model_id: str) -> None:
    b = load_backend(model_id, device="cpu")
    assert b.fused_attention
    modules = attention_modules(b)
    assert modules and all(attention.is_fused(m) for m in modules)


def test_reference_backend_keeps_transformers_attention() -> None:
    b = backend(sam_model({}), fused=False)
    assert not b.fused_attention
    assert not any(attention.is_fused(m) for m in attention_modules(b))


Pair = tuple[SamBackend, SamBackend, list[torch.Tensor], list[dict[str, torch.Tensor]]]


@pytest.fixture(scope="module", params=["tiny", "vit-b-sized"])
def pair(request: pytest.FixtureRequest) -> Pair:
    """Reference and fused backends of one model, 2 chips, the reference's fp32 features of them."""
    model = sam_model({} if request.param == "tiny" else VIT_B)
    reference = backend(model, fused=False)
    chips = [structured_chip(seed) for seed in range(2)]
    return reference, backend(model, fused=True), chips, reference.encode(chips, mixed_precision=False)


def test_fp32_features_match(pair: Pair) -> None:
    _, fused, chips, a = pair
    b = fused.encode(chips, mixed_precision=False)
    for fa, fb in zip(a, b, strict=True):
        scale = fa["image_embeddings"].abs().max()
        assert scale > 0
        torch.testing.assert_close(fb["image_embeddings"], fa["image_embeddings"],
                                   atol=1e-5 * scale.item(), rtol=1e-4)


def bf16_features(b: SamBackend, chips: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Features encoded under CPU bf16 autocast (forced: `encode` picks it only where fast)."""
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = b.model.get_image_embeddings(b.preprocessing(chips))
    return [{"image_embeddings": t.float()} for t in out]


def test_bf16_features_and_masks_match(pair: Pair) -> None:
    reference, fused, chips, full = pair
    a, b = bf16_features(reference, chips), bf16_features(fused, chips)
    for fa, fb, ff in zip(a, b, full, strict=True):
        scale = ff["image_embeddings"].abs().max()
        assert (fb["image_embeddings"] - fa["image_embeddings"]).abs().max() <= 0.05 * scale
    ious = mask_ious(reference, b, a) + mask_ious(reference, b, full)
    assert len(ious) == 2 * 2 * len(PROMPTS) * 3
    assert np.mean(ious) >= 0.98, f"mean IoU {np.mean(ious):.4f}, min {np.min(ious):.4f}"


def test_bias_in_blocks_of_rows_at_1024_px() -> None:
    model = sam_model({}, size=1024)
    reference, fused = backend(model, False, 1024), backend(model, True, 1024)
    pixels = torch.randn(1, 3, 1024, 1024)
    with torch.inference_mode():
        a = reference.model.get_image_embeddings(pixels)
        b = fused.model.get_image_embeddings(pixels)
    torch.testing.assert_close(b, a, atol=1e-5 * a.abs().max().item(), rtol=1e-4)


def test_attention_weights_come_from_the_reference_forward() -> None:
    model = sam_model({})
    eager = copy.deepcopy(model)
    eager.vision_encoder.config._attn_implementation = "eager"
    for layer in eager.vision_encoder.layers:
        layer.attn.__class__ = type(layer.attn).__mro__[1]  # SamVisionSdpaAttention → SamVisionAttention
    fused = backend(model, fused=True)
    pixels = torch.randn(1, 3, SIZE, SIZE)
    with torch.inference_mode():
        want = eager.vision_encoder(pixels, output_attentions=True).attentions
        got = fused.model.vision_encoder(pixels, output_attentions=True).attentions
    assert len(got) == len(want) == 2
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w)


def test_sam2_features_match() -> None:
    reference = load_backend("tiny-random-sam2", device="cpu")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Sam2Model(Sam2Config(**CATALOGUE["tiny-random-sam2"].tiny)).eval()
    fused = SamBackend(reference.spec, copy.deepcopy(model), reference.info, torch.device("cpu"))
    plain = SamBackend(reference.spec, model, reference.info, torch.device("cpu"),
                       fused_attention=False)
    assert fused.fused_attention and not plain.fused_attention
    chips = [structured_chip(seed) for seed in range(2)]
    for mixed in (False, True):
        for fa, fb in zip(plain.encode(chips, mixed), fused.encode(chips, mixed), strict=True):
            for name in fa:
                torch.testing.assert_close(fb[name], fa[name], atol=1e-6, rtol=1e-5)


def test_other_layout_falls_back_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    """A transformers version whose attention forward takes other arguments is left alone."""
    model = sam_model({})
    cls = type(model.vision_encoder.layers[0].attn)

    class ChangedAttention(cls):  # type: ignore[misc, valid-type]
        def forward(self, hidden_states: torch.Tensor, position_embeddings: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, None]:
            return super().forward(hidden_states)

    ChangedAttention.__name__ = "SamVisionAttention"
    for layer in model.vision_encoder.layers:
        layer.attn.__class__ = ChangedAttention
    with pytest.raises(AttentionLayoutError, match="forward takes"):
        attention.install(copy.deepcopy(model), "sam")
    with caplog.at_level(logging.WARNING, logger="samscape.models.backend"):
        b = backend(model, fused=True)
    assert not b.fused_attention
    assert "stays transformers' own" in caplog.text
    assert all(type(m) is ChangedAttention for m in attention_modules(b))


def test_one_problem_and_one_row_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block budget below one row of one head's bias: every (window·head, row) is its own block."""
    monkeypatch.setitem(attention._BLOCK_BYTES, "cpu", 1)
    model = sam_model({})
    reference, fused = backend(model, fused=False), backend(model, fused=True)
    pixels = torch.randn(2, 3, SIZE, SIZE)
    with torch.inference_mode():
        a = reference.model.get_image_embeddings(pixels)
        b = fused.model.get_image_embeddings(pixels)
    torch.testing.assert_close(b, a, atol=1e-5 * a.abs().max().item(), rtol=1e-4)
