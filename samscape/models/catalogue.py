"""The model catalogue: stable ids for SAM-family models, and the tiny ones built from configs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Family = Literal["sam", "sam2"]

# Mixed-precision encoding is on by default for a family only where tests/models/test_precision.py
# shows the masks from its features agree with fp32 ones (IoU >= 0.98).
MIXED_PRECISION_FAMILIES = frozenset({"sam", "sam2"})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A catalogue entry. `repository`/`revision` pin the hub weights and `sha256` is the expected
    digest of their model.safetensors; `tiny` marks config-built models with fixed-seed random
    weights (for tests and offline trials: they segment nothing)."""

    id: str
    family: Family
    input_size: int
    description: str
    repository: str | None = None
    revision: str | None = None
    sha256: str | None = None
    tiny: dict = field(default_factory=dict)
    bundled: str | None = None

    @property
    def builtin(self) -> bool:
        return bool(self.tiny) or self.bundled is not None


TINY_SIZE = 256


def _tiny_sam() -> dict:
    return {
        "vision_config": {
            "hidden_size": 32, "output_channels": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "image_size": TINY_SIZE, "patch_size": 16,
            "window_size": 4, "global_attn_indexes": [1], "mlp_dim": 64, "num_pos_feats": 16,
            "initializer_range": 0.02,
        },
        "prompt_encoder_config": {"hidden_size": 32, "image_size": TINY_SIZE, "patch_size": 16},
        "mask_decoder_config": {
            "hidden_size": 32, "mlp_dim": 64, "num_attention_heads": 2, "iou_head_hidden_dim": 32,
        },
    }


def _tiny_sam2() -> dict:
    s = TINY_SIZE
    return {
        "vision_config": {
            "backbone_config": {
                "model_type": "sam2_hiera_det_model", "hidden_size": 16, "image_size": [s, s],
                "blocks_per_stage": [1, 1, 2, 1], "embed_dim_per_stage": [16, 32, 64, 128],
                "num_attention_heads_per_stage": [1, 1, 2, 2],
                "window_size_per_stage": [8, 4, 4, 2], "global_attention_blocks": [3],
                "window_positional_embedding_background_size": [4, 4],
            },
            "backbone_channel_list": [128, 64, 32, 16],
            "backbone_feature_sizes": [[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
            "fpn_hidden_size": 32,
        },
        "prompt_encoder_config": {"hidden_size": 32, "image_size": s, "patch_size": 16},
        "mask_decoder_config": {
            "hidden_size": 32, "mlp_dim": 64, "num_attention_heads": 2, "iou_head_hidden_dim": 32,
        },
    }


_ENTRIES = [
    ModelSpec("sam-vit-base", "sam", 1024, "SAM ViT-B (Meta), 94M parameters",
              "facebook/sam-vit-base",
              "70c1a07f894ebb5b307fd9eaaee97b9dfc16068f",
              "892c410e496344e527255ccdcb2cb7244a609acb5389c7c4fdba1288f861c579"),
    ModelSpec("sam-vit-large", "sam", 1024, "SAM ViT-L (Meta), 312M parameters",
              "facebook/sam-vit-large",
              "6851e0441005b0fb96f2cc4dfac472f3d1b14af1",
              "a57e1b13cd1545938dfcbc9fb26df7f60de6650237a9383382a874a623564b81"),
    ModelSpec("sam-vit-huge", "sam", 1024, "SAM ViT-H (Meta), 641M parameters",
              "facebook/sam-vit-huge",
              "87aecf0df4ce6b30cd7de76e87673c49644bdf67",
              "edfb0462392541fca9af44ff039bfb32dbd0c939997f3abb77a26e23af7afd7c"),
    ModelSpec("slimsam-50", "sam", 1024, "SlimSAM, SAM ViT-H pruned to 50%",
              "nielsr/slimsam-50-uniform",
              "166dbfbb80330ebfe89910d60747e6af11780c73",
              "c6146291d993f315ae1951e1209555d6c9dea1404546dc54edbc3f15fb1d8e69"),
    ModelSpec("slimsam-77", "sam", 1024, "SlimSAM, SAM ViT-H pruned to 77%",
              "nielsr/slimsam-77-uniform",
              "main",
              "b0ee221e3d33935807a820c157fec81a537b3b9979edc88b148a8dae8bbdd5d2"),
    ModelSpec("sam2.1-hiera-tiny", "sam2", 1024, "SAM 2.1 Hiera-T (Meta), 39M parameters",
              "facebook/sam2.1-hiera-tiny",
              "de431c4043854a71d8101e17995dfe596bf101a5",
              "48c14467e5cf9e51870511feb72c89688e82dd74523142c0538b663e193ac2a7"),
    ModelSpec("sam2.1-hiera-small", "sam2", 1024, "SAM 2.1 Hiera-S (Meta), 46M parameters",
              "facebook/sam2.1-hiera-small",
              "ee5bba1d82bb8749febdf90f45e84b687142ba03",
              "0a4067b11ce1e23d5229203f11c718a823060d15a4b23fa2372a7d4b77cbbc60"),
    ModelSpec("sam2.1-hiera-base-plus", "sam2", 1024, "SAM 2.1 Hiera-B+ (Meta), 81M parameters",
              "facebook/sam2.1-hiera-base-plus",
              "b7320756a13354e7530a63935656d35b2f91a290",
              "2012733a0de5d03efd1bba550a2847c4551be9ef2e0d497c83074df66189f780"),
    ModelSpec("sam2.1-hiera-large", "sam2", 1024, "SAM 2.1 Hiera-L (Meta), 224M parameters",
              "facebook/sam2.1-hiera-large",
              "665f8e2ad61cf5f53d65644ff27c8ee525124610",
              "dc407dce21301fd94abb395c5099b4f2c455fdc8a8f261ac3d0ea6d4cd197230"),
    ModelSpec("demo", "sam", 256,
              "samscape's demo model, trained on synthetic scenes: for trying samscape and for "
              "tests, not for real imagery (see its model card)", bundled="demo"),
    ModelSpec("tiny-random-sam", "sam", TINY_SIZE,
              "tiny SAM with random weights (fixed seed): for tests and offline trials only",
              tiny=_tiny_sam()),
    ModelSpec("tiny-random-sam2", "sam2", TINY_SIZE,
              "tiny SAM 2 with random weights (fixed seed): for tests and offline trials only",
              tiny=_tiny_sam2()),
]

CATALOGUE: dict[str, ModelSpec] = {spec.id: spec for spec in _ENTRIES}
DEFAULT_MODEL = "sam-vit-base"
