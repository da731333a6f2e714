"""Meta-format checkpoints → transformers SAM / SAM 2 (samscape.models.metaweights) and their import
into the store. Meta's key names come from tests/data/meta_keys/ (Ultralytics' module tree, which
loads Meta's checkpoints strictly; written by tests/geosam_oracle/dump_meta_keys.py); the numeric
check against Ultralytics' own model is tests/geosam_oracle/test_meta_import_oracle.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from samscape.cli.main import cli
from samscape.errors import ModelImportError
from samscape.models import CATALOGUE, import_checkpoint, load_backend, model_path
from samscape.models import metaweights as mw
from samscape.models.store import PROVENANCE

META_KEYS = Path(__file__).parent.parent / "data" / "meta_keys"

# --- Meta's names from transformers' (the inverse of the mapping under test, written apart) -----

_SAM_BACK = [  # applied in order to a SamModel key
    (r"^vision_encoder\.layers\.", "image_encoder.blocks."),
    (r"^vision_encoder\.", "image_encoder."),
    (r"neck\.conv1", "neck.0"), (r"neck\.layer_norm1", "neck.1"),
    (r"neck\.conv2", "neck.2"), (r"neck\.layer_norm2", "neck.3"),
    (r"patch_embed\.projection", "patch_embed.proj"),
    (r"shared_embedding\.positional_embedding", "pe_layer.positional_encoding_gaussian_matrix"),
    (r"(?<!not_a_)point_embed\.", "point_embeddings."),
    (r"mask_embed\.conv1", "mask_downscaling.0"), (r"mask_embed\.layer_norm1", "mask_downscaling.1"),
    (r"mask_embed\.conv2", "mask_downscaling.3"), (r"mask_embed\.layer_norm2", "mask_downscaling.4"),
    (r"mask_embed\.conv3", "mask_downscaling.6"),
    (r"upscale_conv1", "output_upscaling.0"), (r"upscale_layer_norm", "output_upscaling.1"),
    (r"upscale_conv2", "output_upscaling.3"),
    (r"(mlps\.\d+|iou_prediction_head|pred_obj_score_head)\.layers\.0", r"\1.layers.1"),
    (r"(mlps\.\d+|iou_prediction_head|pred_obj_score_head)\.proj_in", r"\1.layers.0"),
    (r"(mlps\.\d+|iou_prediction_head|pred_obj_score_head)\.proj_out", r"\1.layers.2"),
    (r"\.layer_norm", ".norm"),
]
_SAM2_BACK = [
    (r"^no_memory_embedding$", "no_mem_embed"),
    (r"^vision_encoder\.backbone\.", "image_encoder.trunk."),
    (r"^vision_encoder\.neck\.convs\.(\d+)\.", r"image_encoder.neck.convs.\1.conv."),
    (r"^prompt_encoder\.", "sam_prompt_encoder."),
    (r"^mask_decoder\.", "sam_mask_decoder."),
    (r"mlp\.proj_in", "mlp.layers.0"), (r"mlp\.proj_out", "mlp.layers.1"),
    (r"\.o_proj", ".out_proj"),
    *_SAM_BACK[2:],
]


def to_meta(state: dict[str, torch.Tensor], family: str) -> dict[str, torch.Tensor]:
    """A transformers state dict → Meta's layout (SAM 2's point embeddings split in four)."""
    rules = _SAM2_BACK if family == "sam2" else _SAM_BACK
    out = {}
    for key, value in state.items():
        if key == "shared_image_embedding.positional_embedding":
            continue
        if key == "prompt_encoder.point_embed.weight":
            for i in range(value.shape[0]):
                out[f"sam_prompt_encoder.point_embeddings.{i}.weight"] = value[i:i + 1]
            continue
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def meta_table(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in json.loads((META_KEYS / f"{name}.json").read_text()).items()}


def hf_state(family: str, config: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """A transformers model's state dict, every tensor distinct random values."""
    from transformers import Sam2Config, Sam2Model, SamConfig, SamModel

    model_class, config_class = (Sam2Model, Sam2Config) if family == "sam2" else (SamModel, SamConfig)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in model_class(config_class(**config)).state_dict().items()}
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(shape, generator=g) * 0.05 for k, shape in shapes.items()}
    state["shared_image_embedding.positional_embedding"] = state[
        "prompt_encoder.shared_embedding.positional_embedding"].clone()
    return state


# SAM at a test size: every SamConfig number that Meta's shapes show differs from the default, and
# the decoder's 8 heads (which no shape shows) are Meta's.
TINY_SAM = {
    "vision_config": {"hidden_size": 32, "output_channels": 32, "num_hidden_layers": 3,
                      "num_attention_heads": 2, "image_size": 256, "patch_size": 16, "window_size": 4,
                      "global_attn_indexes": [1], "mlp_dim": 48, "num_pos_feats": 16},
    "prompt_encoder_config": {"hidden_size": 32, "image_size": 256, "patch_size": 16,
                              "mask_input_channels": 8},
    "mask_decoder_config": {"hidden_size": 32, "mlp_dim": 64, "num_attention_heads": 8,
                            "iou_head_hidden_dim": 24},
}


@pytest.mark.parametrize("name", ["sam_b", "sam_l", "sam2_t", "sam2_b", "sam2_l"])
def test_meta_names_map_onto_the_transformers_model(name: str) -> None:
    """Every key of Meta's layout maps to one of the transformers model the shapes call for, with
    its shape, and nothing is left over (convert checks both); our inverse gives Meta's names back."""
    table = meta_table(name)
    state = {k: torch.empty(shape, device="meta") for k, shape in table.items()}
    family, config, converted = mw.convert(state)
    assert family == ("sam2" if name.startswith("sam2") else "sam")
    back = to_meta(converted, family)
    video_only = {k for k in table if k.startswith(mw._SAM2_VIDEO_ONLY)}
    assert set(back) == set(table) - video_only
    assert all(tuple(back[k].shape) == table[k] for k in back)


@pytest.mark.parametrize(("name", "expected"), [
    ("sam_b", {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
               "global_attn_indexes": [2, 5, 8, 11], "window_size": 14, "image_size": 1024}),
    ("sam_l", {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
               "global_attn_indexes": [5, 11, 17, 23], "window_size": 14, "image_size": 1024}),
])
def test_sam_config_read_off_the_shapes(name: str, expected: dict) -> None:
    state = {k: torch.empty(s, device="meta") for k, s in meta_table(name).items()}
    vision = mw.sam_config(state)["vision_config"]
    assert {k: vision[k] for k in expected} == expected


@pytest.mark.parametrize(("name", "blocks", "globals_", "background"), [
    ("sam2_t", [1, 2, 7, 2], [5, 7, 9], [7, 7]),
    ("sam2_b", [2, 3, 16, 3], [12, 16, 20], [14, 14]),
    ("sam2_l", [2, 6, 36, 4], [23, 33, 43], [7, 7]),
])
def test_sam2_config_is_one_of_metas(name: str, blocks: list, globals_: list, background: list) -> None:
    state = {k: torch.empty(s, device="meta") for k, s in meta_table(name).items()}
    backbone = mw.sam2_config(state)["vision_config"]["backbone_config"]
    assert backbone["blocks_per_stage"] == blocks
    assert backbone["global_attention_blocks"] == globals_
    assert backbone["window_positional_embedding_background_size"] == background


def test_unknown_hiera_is_refused() -> None:
    table = meta_table("sam2_t")
    state = {k: torch.empty(s, device="meta") for k, s in table.items()
             if not k.startswith("image_encoder.trunk.blocks.11.")}
    with pytest.raises(ModelImportError, match=r"blocks \[1, 2, 7, 1\].*none of Meta's"):
        mw.sam2_config(state)


@pytest.mark.parametrize(("name", "drop"), [("sam_b", "image_encoder.pos_embed"),
                                            ("sam2_t", "image_encoder.trunk.pos_embed")])
def test_checkpoint_missing_a_tensor_is_refused(name: str, drop: str) -> None:
    state = {k: torch.empty(s, device="meta") for k, s in meta_table(name).items() if k != drop}
    with pytest.raises(ModelImportError, match=f"lacks '{drop}'"):
        mw.convert(state)


def test_sam2_round_trip_gives_the_same_tensors() -> None:
    """transformers → Meta layout → convert: the very same tensors under the very same keys."""
    config = CATALOGUE["tiny-random-sam2"].tiny
    original = hf_state("sam2", config)
    family, _, converted = mw.convert(to_meta(original, "sam2"), config=config)
    assert family == "sam2" and converted.keys() == original.keys()
    for key, tensor in original.items():
        assert torch.equal(converted[key], tensor), key


def test_imported_checkpoint_encodes_and_decodes_as_the_original(tmp_path: Path) -> None:
    """A SAM checkpoint in Meta's layout, imported through the CLI: its config is read off the
    shapes, and the model gives the original's embeddings and masks."""
    from transformers import SamConfig, SamModel

    original = hf_state("sam", TINY_SAM, seed=1)
    file = tmp_path / "sam_vit_tiny.pth"
    torch.save(to_meta(original, "sam"), file)

    result = CliRunner().invoke(cli, ["models", "import", str(file), "--as", "meta-tiny"])
    assert result.exit_code == 0, result.output
    record = json.loads((model_path("meta-tiny") / PROVENANCE).read_text())
    assert record["family"] == "sam" and record["input_size"] == 256
    assert record["source_file"] == str(file.resolve()) and len(record["source_sha256"]) == 64

    reference = SamModel(SamConfig(**TINY_SAM)).eval()
    reference.load_state_dict(original)
    backend = load_backend("meta-tiny", device="cpu")
    g = torch.Generator().manual_seed(2)
    chip = torch.randint(0, 256, (200, 256, 3), dtype=torch.uint8, generator=g)
    features = backend.encode([chip], mixed_precision=False)[0]
    with torch.inference_mode():
        expected = reference.get_image_embeddings(backend.preprocessing([chip]))[0]
        torch.testing.assert_close(features["image_embeddings"], expected, atol=1e-5, rtol=1e-4)
        points = torch.tensor([[100.0, 60.0]])
        masks, iou = backend.decode_low_res(features, (200, 256), points=points, multimask=True)
        ref = reference(image_embeddings=expected[None], multimask_output=True,
                        input_points=points.view(1, 1, 1, 2), input_labels=torch.ones(1, 1, 1).long())
    torch.testing.assert_close(masks, ref.pred_masks[0, 0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(iou, ref.iou_scores[0, 0], atol=1e-5, rtol=1e-4)


class Payload:
    """A pickled class: what weights_only=True refuses to load."""


def cli_error(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code != 0 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_checkpoint_that_pickles_objects_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "sam_b.pt"
    torch.save({"model": Payload(), "epoch": 3}, file)
    message = cli_error("models", "import", str(file), "--as", "x")
    assert "not a plain state dict" in message and "weights_only=True" in message
    assert not model_path("x").exists()


@pytest.mark.parametrize(("payload", "expected"), [
    ([torch.zeros(2)], "does not hold a state dict"),
    ({"encoder.weight": torch.zeros(2)}, "neither SAM's"),
])
def test_other_files_are_refused(tmp_path: Path, payload: object, expected: str) -> None:
    file = tmp_path / "weights.pt"
    torch.save(payload, file)
    assert expected in cli_error("models", "import", str(file), "--as", "x")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert "not a readable PyTorch checkpoint" in cli_error(
        "models", "import", str(tmp_path / "junk.pth"), "--as", "x")


def test_catalogue_ids_are_not_taken_by_a_conversion(tmp_path: Path) -> None:
    file = tmp_path / "sam_vit_tiny.pth"
    torch.save(to_meta(hf_state("sam", TINY_SAM), "sam"), file)
    message = cli_error("models", "import", str(file), "--as", "sam-vit-base")
    assert "catalogue id" in message and "--as my-sam-vit-base" in message
    import_checkpoint(file, "mine")
    assert "already in the store" in cli_error("models", "import", str(file), "--as", "mine")
