"""The mask decoder of a SAM / SAM 2 model, arranged so that what depends only on a chip's image
embedding is computed once per chip (`prepare`) and reused for every prompt on it (`decode`).

Every weight is the `transformers` model's own: this module calls its submodules (projections,
layer norms, MLPs, the prompt encoder) and reimplements only the order of the forward pass of
`SamMaskDecoder` / `Sam2MaskDecoder` and their two-way transformer:

- per chip: the image embedding plus the "no mask" dense embedding, flattened to (h·w, C); the
  first block's token→image keys and values (image-side projections that do not depend on the
  prompt: later blocks see keys updated by the tokens; its image→token queries are not kept, as
  a point prompt meets them through the tokens' side, below); for SAM 2 the high-resolution
  features in the order of the upscaling below;
- per model: the dense positional encoding (h·w, C) and the output tokens;
- attention between the few prompt tokens (T) and the h·w image rows is computed through the
  tokens' side when T is below the head width d: a head's scores q·kᵀ and its output through
  the output projection are products of rank T, so the image rows meet (C, H·T) matrices built
  from the tokens instead of the (C, H·d) projections (`_LowRank`). For SAM's 256-wide decoder
  and a point prompt (T = 7, d = 16) this halves the multiply-adds of the two-way transformer;
  the result differs from the reference by float rounding only;
- the upscaling runs on rows of (pixel, C): a 2×2 stride-2 transposed convolution is one matrix
  product that puts each pixel's four children next to it, four times faster on a CPU than the
  convolution kernel; the rows are put in raster order only as the masks' (M, 4h, 4w) at the end,
  and only for the masks asked for.

tests/models/test_decoder.py: logits within float tolerance of the model's own forward, identical
polygons from a trained model.

`check_layout` refuses a model whose modules are not arranged as this expects (a `transformers`
version that changed them), so the backend falls back to the model's own forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import DecoderLayoutError

_DECODERS = {"sam": "SamMaskDecoder", "sam2": "Sam2MaskDecoder"}
_BLOCK_PARTS = ("self_attn", "cross_attn_token_to_image", "cross_attn_image_to_token", "mlp",
                "layer_norm1", "layer_norm2", "layer_norm3", "layer_norm4", "skip_first_layer_pe")


@dataclass(frozen=True, slots=True)
class PreparedChip:
    """The prompt-independent decoder inputs of one chip, on the model's device.

    keys: (h·w, C) image embedding + no-mask embedding, rows in raster order (row-major y, x);
    first_keys, first_values: (heads, h·w, d) the first block's token→image keys and values;
    high_res: SAM 2's stride-8 and stride-4 features as (h·w, 4, C/4) and (4·h·w, 4, C/8), in the
    order the upscaling produces pixels (see `_blocked`); None for SAM.
    """

    keys: Tensor
    first_keys: Tensor
    first_values: Tensor
    high_res: tuple[Tensor, Tensor] | None
    size: tuple[int, int]

    @property
    def nbytes(self) -> int:
        tensors = [self.keys, self.first_keys, self.first_values, *(self.high_res or ())]
        return sum(t.nbytes for t in tensors)


def check_layout(model: Any, family: str) -> None:
    """DecoderLayoutError unless `model`'s mask decoder has the modules `CachedDecoder` uses."""
    decoder: Any = getattr(model, "mask_decoder", None)
    problems = []
    if type(decoder).__name__ != _DECODERS[family]:
        problems.append(f"mask decoder is {type(decoder).__name__}")
    else:
        transformer = decoder.transformer
        for i, block in enumerate(transformer.layers):
            problems += [f"block {i} has no {p}" for p in _BLOCK_PARTS if not hasattr(block, p)]
            if hasattr(block, "skip_first_layer_pe") and block.skip_first_layer_pe != (i == 0):
                problems.append(f"block {i} skip_first_layer_pe is {block.skip_first_layer_pe}")
        attentions = [a for b in transformer.layers for a in (
            getattr(b, "self_attn", None), getattr(b, "cross_attn_token_to_image", None),
            getattr(b, "cross_attn_image_to_token", None))] + [transformer.final_attn_token_to_image]
        for attention in attentions:
            if not all(hasattr(attention, p) for p in ("q_proj", "k_proj", "v_proj", "scaling",
                                                       "num_attention_heads")) or _out(attention) is None:
                problems.append(f"attention {type(attention).__name__} lacks q/k/v/out projections")
                break
        for conv in (decoder.upscale_conv1, decoder.upscale_conv2):
            if not (isinstance(conv, nn.ConvTranspose2d) and conv.kernel_size == (2, 2)
                    and conv.stride == (2, 2) and conv.padding == (0, 0) and conv.groups == 1):
                problems.append("upscaling is not two 2×2 stride-2 transposed convolutions")
        if getattr(decoder.upscale_layer_norm, "data_format", None) != "channels_first":
            problems.append("upscale layer norm is not channels-first")
        if family == "sam2" and not hasattr(decoder, "obj_score_token"):
            problems.append("SAM 2 decoder has no object score token")
    if problems:
        raise DecoderLayoutError(
            f"the {family} mask decoder of this transformers version is laid out differently "
            f"({'; '.join(problems)}); use the reference decoder or a transformers version it supports")


def _out(attention: Any) -> nn.Linear | None:
    return getattr(attention, "out_proj", None) or getattr(attention, "o_proj", None)


class CachedDecoder:
    """A model's mask decoder with per-chip preparation. Shapes as in `PreparedChip`; `decode`
    takes the prompt encoder's input tensors as the model's forward does and returns low-res
    mask logits (M, 4h, 4w) and predicted IoUs (M,)."""

    def __init__(self, model: Any, family: str) -> None:
        check_layout(model, family)
        self.model = model
        self.family = family
        self.decoder = model.mask_decoder
        with torch.inference_mode():
            pe = model.get_image_wide_positional_embeddings()[0]
            self.positions = pe.flatten(1).T.contiguous()
            d = self.decoder
            tokens = [d.iou_token.weight, d.mask_tokens.weight]
            if family == "sam2":
                tokens.insert(0, d.obj_score_token.weight)
            self.output_tokens = torch.cat(tokens)
            self.upscale1 = _pointwise(d.upscale_conv1)
            self.upscale2 = _pointwise(d.upscale_conv2)
            transformer = d.transformer
            self.low_rank = {id(a): _LowRank.of(a) for b in transformer.layers
                             for a in (b.cross_attn_token_to_image, b.cross_attn_image_to_token)}
            self.low_rank[id(transformer.final_attn_token_to_image)] = _LowRank.of(
                transformer.final_attn_token_to_image)
        self.first_mask_token = len(tokens) - 1

    def prepare(self, embeddings: Tensor, high_res: tuple[Tensor, Tensor] | None = None) -> PreparedChip:
        """embeddings: (C, h, w); high_res (SAM 2): stride-4 (C/8, 4h, 4w) and stride-8 (C/4, 2h, 2w)
        features, as `Sam2Model.get_image_embeddings` gives them (already projected)."""
        block = self.decoder.transformer.layers[0]
        with torch.inference_mode():
            _, h, w = embeddings.shape
            dense = self.model.prompt_encoder.no_mask_embed.weight.reshape(-1, 1, 1)
            keys = (embeddings + dense).flatten(1).T.contiguous()
            with_pe = keys + self.positions
            t2i = block.cross_attn_token_to_image
            blocked = None
            if high_res is not None:
                s0, s1 = high_res
                blocked = (_blocked(s1, h, w, 1), _blocked(s0, h, w, 2))
            return PreparedChip(keys, _heads(t2i, t2i.k_proj(with_pe)), _heads(t2i, t2i.v_proj(keys)),
                                blocked, (h, w))

    def decode(self, chip: PreparedChip, multimask: bool, input_points: Tensor | None = None,
               input_labels: Tensor | None = None, input_boxes: Tensor | None = None
               ) -> tuple[Tensor, Tensor]:
        """Prompts as for the model's forward (points (1, 1, N, 2), labels (1, 1, N), boxes (1, 1, 4),
        in the model's input pixels) → logits (M, 4h, 4w), IoU (M,); M = 3 with `multimask`, else 1."""
        with torch.inference_mode():
            if self.family == "sam2" and input_points is None and input_boxes is None:
                input_points = torch.zeros(1, 1, 1, 2, device=chip.keys.device)
                input_labels = -torch.ones(1, 1, 1, dtype=torch.int32, device=chip.keys.device)
            sparse, _ = self.model.prompt_encoder(input_points=input_points, input_labels=input_labels,
                                                  input_boxes=input_boxes, input_masks=None)
            tokens = self.output_tokens if sparse is None else torch.cat([self.output_tokens, sparse[0, 0]])
            queries, keys = self._transformer(chip, tokens)
            return self._masks(chip, queries, keys, multimask)

    def _transformer(self, chip: PreparedChip, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """The two-way transformer: tokens (T, C) and keys (h·w, C) after every block."""
        transformer = self.decoder.transformer
        queries, keys, pe = tokens, chip.keys, self.positions
        for i, block in enumerate(transformer.layers):
            if block.skip_first_layer_pe:
                queries = _attend(block.self_attn, queries, queries, queries)
            else:
                q = queries + tokens
                queries = queries + _attend(block.self_attn, q, q, queries)
            queries = block.layer_norm1(queries)
            t2i = block.cross_attn_token_to_image
            with_pe = keys + pe
            if i == 0:
                attended = _finish(t2i, _sdpa(t2i, _heads(t2i, t2i.q_proj(queries + tokens)),
                                              chip.first_keys, chip.first_values))
            else:
                attended = self._to_image(t2i, queries + tokens, with_pe, keys)
            queries = block.layer_norm2(queries + attended)
            queries = block.layer_norm3(queries + block.mlp(queries))
            i2t = block.cross_attn_image_to_token
            low_rank = self.low_rank[id(i2t)]
            if low_rank.helps(len(queries)):
                updated = low_rank.image_to_tokens(with_pe, queries + tokens, queries, keys)
            else:
                q = _heads(i2t, i2t.q_proj(with_pe))
                k, v = _heads(i2t, i2t.k_proj(queries + tokens)), _heads(i2t, i2t.v_proj(queries))
                updated = keys + _finish(i2t, _sdpa(i2t, q, k, v))
            keys = block.layer_norm4(updated)
        final = transformer.final_attn_token_to_image
        attended = self._to_image(final, queries + tokens, keys + pe, keys)
        return transformer.layer_norm_final_attn(queries + attended), keys

    def _to_image(self, attention: Any, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        """Tokens (T, C) attending image rows: keys (h·w, C), values (h·w, C) → (T, C)."""
        low_rank = self.low_rank[id(attention)]
        if low_rank.helps(len(query)):
            return low_rank.tokens_to_image(query, key, value)
        return _attend(attention, query, key, value)

    def _masks(self, chip: PreparedChip, queries: Tensor, keys: Tensor, multimask: bool
               ) -> tuple[Tensor, Tensor]:
        d = self.decoder
        first = self.first_mask_token
        h, w = chip.size
        dynamic = (not multimask and self.family == "sam2" and d.dynamic_multimask_via_stability
                   and not d.training)
        tokens = len(d.output_hypernetworks_mlps)
        wanted = range(tokens) if dynamic else range(1, tokens) if multimask else range(1)
        hyper = torch.stack([d.output_hypernetworks_mlps[i](queries[first + i]) for i in wanted])
        rows = self._upscaled(chip, keys, hyper.T)
        masks = rows.index_select(0, _raster_index(h, w, rows.device)).T.reshape(-1, 4 * h, 4 * w)
        iou = d.iou_prediction_head(queries[first - 1])
        if dynamic:
            masks, iou = d._dynamic_multimask_via_stability(masks[None, None], iou[None, None])
            return masks[0, 0], iou[0, 0]
        return masks, iou[wanted.start:wanted.stop]

    def _upscaled(self, chip: PreparedChip, keys: Tensor, hyper: Tensor) -> Tensor:
        """Keys (h·w, C), hypernetwork weights (C/8, M) → mask logits (16·h·w, M) in block order.

        The transposed convolutions run as matrix products on rows of (pixel, channels), each
        producing its 2×2 children next to their parent (`_blocked`). Compute-bound: upscaling in
        bands that stay in cache was no faster."""
        d = self.decoder
        ln = d.upscale_layer_norm
        up = self.upscale1(keys)
        if chip.high_res is not None:
            up = up + chip.high_res[0]
        up = d.activation(F.layer_norm(up, ln.normalized_shape, ln.weight, ln.bias, ln.eps))
        up = self.upscale2(up.reshape(-1, up.shape[-1]))
        if chip.high_res is not None:
            up = up + chip.high_res[1]
        return d.activation(up).reshape(-1, hyper.shape[0]) @ hyper


@dataclass(frozen=True)
class _LowRank:
    """One attention module's projections arranged per head for attention with few tokens.

    With H heads of width d, scale s, and T tokens on one side, a head's scores are
    s·(x Wq_hᵀ + bq_h)(y Wk_hᵀ + bk_h)ᵀ: one side's rows meet a (C, T) matrix made from the other
    side, and its output P_h (y Wv_hᵀ + bv_h) Wo_hᵀ passes through (T, C) per head. With T < d
    these products of the image rows cost H·T instead of H·d multiply-adds per channel.
    wq, wk: (H, d, C_in); wv_t: (H, C_in, d); wo_t: (H, d, C); head_bias: (C,) the output bias / H
    (each head's weights over the tokens sum to 1, so it is added to every head's rows)."""

    attention: Any
    out: nn.Linear
    heads: int
    width: int
    wq: Tensor
    wk: Tensor
    wv_t: Tensor
    wo_t: Tensor
    head_bias: Tensor | None

    @classmethod
    def of(cls, attention: Any) -> _LowRank:
        h = attention.num_attention_heads
        out = _out(attention)
        assert out is not None  # check_layout
        d = attention.q_proj.out_features // h

        def per_head(linear: nn.Linear) -> Tensor:
            return linear.weight.reshape(h, d, -1)

        return cls(attention, out, h, d, per_head(attention.q_proj), per_head(attention.k_proj),
                   per_head(attention.v_proj).transpose(1, 2).contiguous(),
                   out.weight.reshape(-1, h, d).permute(1, 2, 0).contiguous(),
                   None if out.bias is None else out.bias / h)

    def helps(self, tokens: int) -> bool:
        return tokens < self.width

    def _bias(self, linear: nn.Linear) -> Tensor:
        return linear.bias.reshape(self.heads, self.width) if linear.bias is not None \
            else torch.zeros(self.heads, self.width, dtype=linear.weight.dtype, device=linear.weight.device)

    def tokens_to_image(self, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        """Queries (T, C) of tokens over keys and values (N, C) of image rows → (T, C). The key
        bias adds a constant to each score row, which softmax ignores."""
        a = self.attention
        t, h = query.shape[0], self.heads
        q = a.q_proj(query).view(t, h, self.width).transpose(0, 1)
        through_keys = (q @ self.wk).reshape(h * t, -1) * a.scaling
        weights = torch.softmax(through_keys @ key.T, dim=-1)
        mixed = (weights @ value).view(h, t, -1)
        heads = mixed @ self.wv_t + self._bias(a.v_proj)[:, None]
        return self.out(heads.transpose(0, 1).reshape(t, -1))

    def image_to_tokens(self, query: Tensor, key: Tensor, value: Tensor, residual: Tensor) -> Tensor:
        """Queries (N, C) of image rows over keys and values (T, C) of tokens → their output plus
        `residual` (N, C), in one matrix product (the output bias in the rows the weights mix)."""
        a = self.attention
        t, h, n = key.shape[0], self.heads, query.shape[0]
        k = a.k_proj(key).view(t, h, self.width).transpose(0, 1)
        v = a.v_proj(value).view(t, h, self.width).transpose(0, 1)
        through_queries = (k @ self.wq).reshape(h * t, -1) * a.scaling
        query_bias = (k @ self._bias(a.q_proj)[:, :, None]).reshape(h * t, 1) * a.scaling
        # scores as (H·T, N): softmax over the T tokens runs along whole rows of N
        scores = torch.addmm(query_bias, through_queries, query.T).view(h, t, n)
        weights = torch.softmax(scores, dim=1).view(h * t, n).T
        through_out = (v @ self.wo_t).reshape(h * t, -1)
        if self.head_bias is not None:
            through_out = through_out + self.head_bias
        return torch.addmm(residual, weights, through_out)


def _pointwise(conv: nn.ConvTranspose2d):
    """A 2×2 stride-2 transposed convolution as a per-pixel product: (P, C) → (P, 4, C') with the
    four children in (dy, dx) order."""
    weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.in_channels, -1).contiguous()
    bias = conv.bias.repeat(4) if conv.bias is not None else None
    out = conv.out_channels

    def apply(x: Tensor) -> Tensor:
        y = x @ weight if bias is None else torch.addmm(bias, x, weight)
        return y.reshape(x.shape[0], 4, out)

    return apply


def _blocked(features: Tensor, h: int, w: int, levels: int) -> Tensor:
    """(C, 2ˡh, 2ˡw) features → rows in the order `levels` 2×2 transposed convolutions of an (h, w)
    grid produce them: (h·w·4^(l-1), 4, C), pixels of the grid in raster order, then each level's
    children in (dy, dx) order."""
    c = features.shape[0]
    split = features.reshape(c, h, *([2] * levels), w, *([2] * levels))
    ys, xs = list(range(2, 2 + levels)), list(range(3 + levels, 3 + 2 * levels))
    order = [1, 2 + levels] + [axis for pair in zip(ys, xs, strict=True) for axis in pair] + [0]
    return split.permute(order).reshape(-1, 4, c).contiguous()


@lru_cache(maxsize=8)
def _raster_index(h: int, w: int, device: torch.device) -> Tensor:
    """(16·h·w,) for each pixel of a (4h, 4w) mask in raster order, its row in the block order of two
    upscalings of an (h, w) grid: (y, x, dy1, dx1, dy2, dx2). A gather: 2.7× faster than permuting
    the six axes."""
    rows = torch.arange(16 * h * w, device=device).reshape(h, w, 2, 2, 2, 2)
    return rows.permute(0, 2, 4, 1, 3, 5).reshape(-1)


def _heads(attention: Any, x: Tensor) -> Tensor:
    """(N, heads·d) → (heads, N, d)."""
    n = x.shape[0]
    return x.view(n, attention.num_attention_heads, -1).transpose(0, 1)


def _sdpa(attention: Any, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return F.scaled_dot_product_attention(q[None], k[None], v[None], scale=attention.scaling)[0]


def _finish(attention: Any, heads: Tensor) -> Tensor:
    """(heads, N, d) attention output → (N, C) through the output projection."""
    n = heads.shape[1]
    return _out(attention)(heads.transpose(0, 1).reshape(n, -1))  # type: ignore[misc]


def _attend(attention: Any, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    q = _heads(attention, attention.q_proj(query))
    k = _heads(attention, attention.k_proj(key))
    v = _heads(attention, attention.v_proj(value))
    return _finish(attention, _sdpa(attention, q, k, v))
