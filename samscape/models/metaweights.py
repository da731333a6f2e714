"""Meta-format SAM / SAM 2 checkpoints → `transformers` SamModel / Sam2Model weights and config.

Meta's checkpoints (`sam_vit_b_01ec64.pth`, `sam2.1_hiera_tiny.pt`, ...) and Ultralytics' copies of
them (`sam_b.pt`, `sam2.1_t.pt`, ..., which Geo-SAM names its models by) hold one state dict in
Meta's module layout: SAM's bare, SAM 2's under a "model" key. The key mapping follows
transformers' own conversion scripts (`models/sam/convert_sam_to_hf.py`,
`models/sam2_video/convert_sam2_video_to_hf.py`); SAM 2's video-only weights (memory encoder,
memory attention, object pointers) are dropped, as Sam2Model has no use for them.

Needs no torch to import. Geo-SAM's checkpoint names are mapped in `features.geosam.checkpoints`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelImportError
from .catalogue import Family

if TYPE_CHECKING:
    import torch

StateDict = dict[str, "torch.Tensor"]


# --- loading ---------------------------------------------------------------------------------

def load_state_dict(path: Path) -> StateDict:
    """The tensors of a Meta-format checkpoint, loaded with weights_only=True (no code from the
    file runs); a SAM 2 file's "model" entry is unwrapped."""
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        pickled = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if pickled:
            raise ModelImportError(
                f"'{path}' is not a plain state dict: it pickles Python objects ({pickled.group(1)}), "
                "and samscape loads checkpoints with weights_only=True so that no code in them runs; "
                "re-save its state_dict() with torch.save in an environment you trust and import that"
            ) from None
        reason = (str(exc).split("WeightsUnpickler error:")[-1].strip().splitlines() or [""])[0][:200]
        raise ModelImportError(
            f"'{path}' is not a readable PyTorch checkpoint ({reason or type(exc).__name__})") from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not obj or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise ModelImportError(
            f"'{path}' does not hold a state dict of tensors (SAM's own, or SAM 2's under 'model'); "
            "point to a Meta or Ultralytics SAM/SAM 2 checkpoint"
        )
    return dict(obj)


def family_of(state: StateDict) -> Family:
    """'sam' or 'sam2', from the checkpoint's keys."""
    if "image_encoder.trunk.patch_embed.proj.weight" in state:
        return "sam2"
    if "image_encoder.patch_embed.proj.weight" in state:
        return "sam"
    raise ModelImportError(
        "the checkpoint has neither SAM's image_encoder.patch_embed nor SAM 2's "
        "image_encoder.trunk.patch_embed weights; point to a Meta or Ultralytics SAM/SAM 2 checkpoint"
    )


# --- SAM ---------------------------------------------------------------------------------------

_PROMPT_DECODER_KEYS = (  # the first entries of both scripts' KEYS_TO_MODIFY_MAPPING
    ("iou_prediction_head.layers.0", "iou_prediction_head.proj_in"),
    ("iou_prediction_head.layers.1", "iou_prediction_head.layers.0"),
    ("iou_prediction_head.layers.2", "iou_prediction_head.proj_out"),
    ("mask_decoder.output_upscaling.0", "mask_decoder.upscale_conv1"),
    ("mask_decoder.output_upscaling.1", "mask_decoder.upscale_layer_norm"),
    ("mask_decoder.output_upscaling.3", "mask_decoder.upscale_conv2"),
    ("mask_downscaling.0", "mask_embed.conv1"),
    ("mask_downscaling.1", "mask_embed.layer_norm1"),
    ("mask_downscaling.3", "mask_embed.conv2"),
    ("mask_downscaling.4", "mask_embed.layer_norm2"),
    ("mask_downscaling.6", "mask_embed.conv3"),
    ("point_embeddings", "point_embed"),
    ("pe_layer.positional_encoding_gaussian_matrix", "shared_embedding.positional_embedding"),
)

_SAM_KEYS = _PROMPT_DECODER_KEYS + (  # transformers' convert_sam_to_hf.py KEYS_TO_MODIFY_MAPPING, in order
    ("image_encoder", "vision_encoder"),
    ("neck.0", "neck.conv1"),
    ("neck.1", "neck.layer_norm1"),
    ("neck.2", "neck.conv2"),
    ("neck.3", "neck.layer_norm2"),
    ("patch_embed.proj", "patch_embed.projection"),
    (".norm", ".layer_norm"),
    ("blocks", "layers"),
)
_HYPERNET = re.compile(r".*\.output_hypernetworks_mlps\.\d+\.layers\.(\d+)\.")
_THREE_LAYER_MLP = {0: "proj_in", 1: "layers.0", 2: "proj_out"}


def _three_layer_mlp(key: str, pattern: re.Pattern[str]) -> str:
    """Meta's 3-layer MLP `layers.0/1/2` → transformers' `proj_in`, `layers.0`, `proj_out`."""
    match = pattern.match(key)
    if match is None:
        return key
    n = int(match.group(1))
    return key.replace(f"layers.{n}", _THREE_LAYER_MLP[n], 1) if n in _THREE_LAYER_MLP else key


def sam_keys(state: StateDict) -> StateDict:
    """A Meta SAM state dict → SamModel's key layout (the same tensors)."""
    out: StateDict = {}
    for key, value in state.items():
        if key in ("pixel_mean", "pixel_std"):
            continue
        for old, new in _SAM_KEYS:
            key = key.replace(old, new)
        out[_three_layer_mlp(key, _HYPERNET)] = value
    shared = out.get("prompt_encoder.shared_embedding.positional_embedding")
    if shared is not None:
        out["shared_image_embedding.positional_embedding"] = shared.clone()
    return out


def sam_config(state: StateDict) -> dict[str, Any]:
    """SamConfig kwargs read off a Meta SAM state dict's shapes (ViT-B/L/H and other sizes alike);
    the mask decoder's 8 attention heads, which no shape shows, are Meta's."""
    patch = state["image_encoder.patch_embed.proj.weight"]
    hidden, patch_size = int(patch.shape[0]), int(patch.shape[-1])
    grid = int(state["image_encoder.pos_embed"].shape[1])
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks."))
    rel_rows = [int(state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0]) for i in range(depth)]
    head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
    windowed = [rows for rows in rel_rows if rows != 2 * grid - 1]
    decoder_hidden = int(state["mask_decoder.iou_token.weight"].shape[1])
    vision = {
        "hidden_size": hidden, "num_hidden_layers": depth, "num_attention_heads": hidden // head_dim,
        "image_size": grid * patch_size, "patch_size": patch_size,
        "mlp_dim": int(state["image_encoder.blocks.0.mlp.lin1.weight"].shape[0]),
        "output_channels": int(state["image_encoder.neck.0.weight"].shape[0]),
        "window_size": (windowed[0] + 1) // 2 if windowed else 14,
        "global_attn_indexes": [i for i, rows in enumerate(rel_rows) if rows == 2 * grid - 1],
        "num_pos_feats": int(state["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"].shape[1]),
    }
    prompt = {
        "hidden_size": decoder_hidden, "image_size": grid * patch_size, "patch_size": patch_size,
        "mask_input_channels": int(state["prompt_encoder.mask_downscaling.3.weight"].shape[0]),
    }
    decoder = {
        "hidden_size": decoder_hidden,
        "mlp_dim": int(state["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0]),
        "num_hidden_layers": 1 + max(int(k.split(".")[3]) for k in state
                                     if k.startswith("mask_decoder.transformer.layers.")),
        "num_attention_heads": 8,
        "num_multimask_outputs": int(state["mask_decoder.mask_tokens.weight"].shape[0]) - 1,
        "iou_head_hidden_dim": int(state["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0]),
    }
    return {"vision_config": vision, "prompt_encoder_config": prompt, "mask_decoder_config": decoder}


# --- SAM 2 -------------------------------------------------------------------------------------

_SAM2_KEYS = _PROMPT_DECODER_KEYS + (  # transformers' convert_sam2_video_to_hf.py KEYS_TO_MODIFY_MAPPING
    ("sam_prompt_encoder", "prompt_encoder"),
    ("sam_mask_decoder", "mask_decoder"),
    ("image_encoder.neck", "vision_encoder.neck"),
    ("image_encoder", "vision_encoder.backbone"),
    ("neck.0", "neck.conv1"),
    ("neck.1", "neck.layer_norm1"),
    ("neck.2", "neck.conv2"),
    ("neck.3", "neck.layer_norm2"),
    ("patch_embed.proj", "patch_embed.projection"),
    ("no_mem_embed", "no_memory_embedding"),
    (".norm", ".layer_norm"),
    ("trunk.", ""),
    ("out_proj", "o_proj"),
)
# Sam2Model (image only) has none of SAM 2's video weights.
_SAM2_VIDEO_ONLY = ("memory_encoder.", "memory_attention.", "maskmem_tpos_enc", "no_mem_pos_enc",
                    "no_obj_ptr", "obj_ptr_proj.", "obj_ptr_tpos_proj.", "mask_downsample.",
                    "no_obj_embed_spatial")
_SAM2_BLOCK_MLP = re.compile(r"vision_encoder\.backbone\.blocks\.\d+\.mlp\.layers\.(\d+)\.")
_SAM2_DECODER_MLP = re.compile(r"mask_decoder\.transformer\.layers\.\d+\.mlp\.layers\.(\d+)\.")
_SAM2_SCORE_HEAD = re.compile(r"mask_decoder\.pred_obj_score_head\.layers\.(\d+)\.")
_SAM2_NECK_CONV = re.compile(r"vision_encoder\.neck\.convs\.\d+\.conv\.")
_TWO_LAYER_MLP = {0: "proj_in", 1: "proj_out"}


def sam2_keys(state: StateDict) -> StateDict:
    """A Meta SAM 2 / 2.1 state dict → Sam2Model's key layout (the same tensors; the four point
    embeddings are stacked into one, as transformers keeps them)."""
    import torch

    out: StateDict = {}
    for key, value in state.items():
        if key.startswith(_SAM2_VIDEO_ONLY):
            continue
        for old, new in _SAM2_KEYS:
            key = key.replace(old, new)
        for pattern in (_SAM2_BLOCK_MLP, _SAM2_DECODER_MLP):
            match = pattern.match(key)
            if match is not None and int(match.group(1)) in _TWO_LAYER_MLP:
                n = int(match.group(1))
                key = key.replace(f"mlp.layers.{n}", f"mlp.{_TWO_LAYER_MLP[n]}", 1)
        key = _three_layer_mlp(key, _SAM2_SCORE_HEAD)
        key = _three_layer_mlp(key, _HYPERNET)
        if _SAM2_NECK_CONV.match(key):
            key = key.replace(".conv.", ".", 1)
        out[key] = value
    points = [out.pop(f"prompt_encoder.point_embed.{i}.weight", None) for i in range(4)]
    if all(p is not None for p in points):
        out["prompt_encoder.point_embed.weight"] = torch.cat(points, dim=0)  # type: ignore[arg-type]
    shared = out.get("prompt_encoder.shared_embedding.positional_embedding")
    if shared is not None:
        out["shared_image_embedding.positional_embedding"] = shared.clone()
    return out


@dataclass(frozen=True, slots=True)
class _Hiera:
    """One of Meta's four Hiera image encoders: what its shapes show (width, blocks per stage) and
    what they do not (heads, windows, global-attention blocks), from transformers' get_config."""

    name: str
    hidden_size: int
    blocks_per_stage: tuple[int, ...]
    heads_per_stage: tuple[int, ...]
    global_attention_blocks: tuple[int, ...]
    window_size_per_stage: tuple[int, ...]


_HIERAS = (
    _Hiera("hiera_tiny", 96, (1, 2, 7, 2), (1, 2, 4, 8), (5, 7, 9), (8, 4, 14, 7)),
    _Hiera("hiera_small", 96, (1, 2, 11, 2), (1, 2, 4, 8), (7, 10, 13), (8, 4, 14, 7)),
    _Hiera("hiera_base_plus", 112, (2, 3, 16, 3), (2, 4, 8, 16), (12, 16, 20), (8, 4, 14, 7)),
    _Hiera("hiera_large", 144, (2, 6, 36, 4), (2, 4, 8, 16), (23, 33, 43), (8, 4, 16, 8)),
)


def sam2_config(state: StateDict) -> dict[str, Any]:
    """Sam2Config kwargs for a Meta SAM 2 / 2.1 state dict: its Hiera found among Meta's four by
    width and blocks per stage (the stage boundaries are the blocks with a `proj`)."""
    hidden = int(state["image_encoder.trunk.patch_embed.proj.weight"].shape[0])
    depth = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("image_encoder.trunk.blocks."))
    starts = [0] + [i for i in range(depth) if f"image_encoder.trunk.blocks.{i}.proj.weight" in state]
    blocks = tuple(b - a for a, b in zip(starts, [*starts[1:], depth], strict=True))
    hiera = next((h for h in _HIERAS if (h.hidden_size, h.blocks_per_stage) == (hidden, blocks)), None)
    if hiera is None:
        known = ", ".join(f"{h.name} ({h.hidden_size} wide, blocks {list(h.blocks_per_stage)})"
                          for h in _HIERAS)
        raise ModelImportError(
            f"the SAM 2 checkpoint's image encoder is {hidden} wide with blocks {list(blocks)} per "
            f"stage, which is none of Meta's: {known}; import it from a transformers folder instead"
        )
    dims = [hidden * 2 ** i for i in range(len(blocks))]
    background = state["image_encoder.trunk.pos_embed"].shape[-2:]
    backbone = {
        "model_type": "sam2_hiera_det_model", "hidden_size": hidden, "blocks_per_stage": list(blocks),
        "embed_dim_per_stage": dims,
        "num_attention_heads": hiera.heads_per_stage[0],
        "num_attention_heads_per_stage": list(hiera.heads_per_stage),
        "global_attention_blocks": list(hiera.global_attention_blocks),
        "window_size_per_stage": list(hiera.window_size_per_stage),
        "window_positional_embedding_background_size": [int(background[0]), int(background[1])],
    }
    vision = {"backbone_config": backbone, "backbone_channel_list": dims[::-1]}
    return {"vision_config": vision}


# --- the whole conversion ----------------------------------------------------------------------

def convert(state: StateDict, config: dict[str, Any] | None = None) -> tuple[Family, Any, StateDict]:
    """A Meta state dict → (family, transformers config, state dict in its layout), checked key by
    key and shape by shape against the model the config builds. `config` (SamConfig/Sam2Config
    kwargs) overrides the one read off the checkpoint (needed for SAM 2 encoders other than
    Meta's four)."""
    import torch
    from transformers import Sam2Config, Sam2Model, SamConfig, SamModel

    family = family_of(state)
    try:
        kwargs = config or (sam2_config(state) if family == "sam2" else sam_config(state))
    except (KeyError, IndexError, ValueError) as exc:
        raise ModelImportError(
            f"the {family} checkpoint lacks {exc} or has it in an unexpected shape; it is not a "
            "Meta/Ultralytics SAM or SAM 2 checkpoint samscape can convert"
        ) from None
    hf_config: Any
    if family == "sam2":
        converted, hf_config = sam2_keys(state), Sam2Config(**kwargs)
    else:
        converted, hf_config = sam_keys(state), SamConfig(**kwargs)
    with torch.device("meta"):
        model = (Sam2Model if family == "sam2" else SamModel)(hf_config)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    wrong = sorted(k for k in set(expected) & set(converted) if tuple(converted[k].shape) != expected[k])
    if missing or unexpected or wrong:
        detail = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                           for what, keys in (("missing", missing), ("unexpected", unexpected),
                                              ("wrong shape", wrong)) if keys)
        raise ModelImportError(
            f"the checkpoint does not match a {family} model of the size its shapes suggest "
            f"({detail}); it is not a Meta/Ultralytics SAM or SAM 2 checkpoint samscape can convert"
        )
    tensors: StateDict = {}
    storages: set[int] = set()
    for key in expected:  # safetensors refuses tensors that share memory
        tensor = converted[key].detach().to(torch.float32).contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        tensors[key] = tensor.clone() if pointer in storages else tensor
        storages.add(pointer)
    return family, hf_config, tensors


def write_model_folder(state: StateDict, folder: Path, config: dict[str, Any] | None = None) -> Family:
    """Convert `state` and write `config.json` + `model.safetensors` into `folder` (which exists),
    as `save_pretrained` lays them out; returns the family."""
    from safetensors.torch import save_file

    family, hf_config, tensors = convert(state, config)
    hf_config.architectures = ["Sam2Model" if family == "sam2" else "SamModel"]
    hf_config.to_json_file(str(folder / "config.json"))
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return family
