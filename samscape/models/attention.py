"""Image-encoder attention through `torch.nn.functional.scaled_dot_product_attention`, swapped into a
loaded `transformers` model in place of its own attention modules (same weights, same modules).

SAM's ViT adds a decomposed relative position bias to every head's scores: for a query at (y, x)
and a key at (y', x'), ``rel_h[y, x, y'] + rel_w[y, x, x']``. The installed transformers' own
forward builds that bias whole, (B·heads, N, N) for N = H·W tokens: 805 MB a chip for each global
layer of ViT-B at 1024 px in float32, written to fresh memory every call. Here the bias is built
for a block of query rows at a time into one buffer reused across blocks (`_BLOCK_BYTES` each) and
added by the fused kernel as an additive mask; rows of queries are independent, so the result is
the same attention. SAM 2's Hiera attention has no bias; its forward here drops a score product
that the installed forward computes and discards.

The reference forward runs whenever attention weights are asked for (``output_attentions``), so
outputs keep their meaning. `install` swaps a module's class for a subclass with the fused forward
(weights, hooks and `isinstance` unchanged) after checking the modules are laid out as this code
expects; otherwise it leaves the model as it is and says why (`AttentionLayoutError`).
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import AttentionLayoutError

log = logging.getLogger(__name__)

_BLOCK_BYTES = {"cpu": 64 << 20, "default": 512 << 20}
_SAM_PARTS = ("qkv", "proj", "num_attention_heads", "scale", "use_rel_pos", "get_rel_pos")
_SAM2_PARTS = ("qkv", "proj", "num_attention_heads", "scale", "query_stride")


def install(model: nn.Module, family: str) -> int:
    """Swap every image-encoder attention module of `model` (a SamModel or Sam2Model) for its
    fused twin in place; the number swapped. AttentionLayoutError (model left unchanged) where the
    installed transformers lays them out otherwise."""
    collector = _collector()
    modules = _attention_modules(model, family)
    for module in modules:
        problem = _layout_problem(module, family)
        if problem:
            raise AttentionLayoutError(f"{problem}; image-encoder attention stays transformers' own")
    if collector is None:
        raise AttentionLayoutError("transformers has no output collector where samscape looks for "
                                   "it; image-encoder attention stays transformers' own")
    for module in modules:
        module.__class__ = _fused_class(type(module), family)
    return len(modules)


def is_fused(module: nn.Module) -> bool:
    """Whether `module` runs the fused forward of this module."""
    return type(module) in _FUSED.values()


def _attention_modules(model: nn.Module, family: str) -> list[nn.Module]:
    names = ("SamVisionAttention",) if family == "sam" else ("Sam2MultiScaleAttention",)
    encoder = getattr(model, "vision_encoder", None)
    if encoder is None:
        raise AttentionLayoutError("model has no vision_encoder; image-encoder attention stays "
                                   "transformers' own")
    found = [m for m in encoder.modules() if any(c.__name__ in names for c in type(m).__mro__)]
    if not found:
        raise AttentionLayoutError(f"no {names[0]} in the vision encoder; image-encoder attention "
                                   "stays transformers' own")
    return found


def _layout_problem(module: Any, family: str) -> str | None:
    parts = _SAM_PARTS if family == "sam" else _SAM2_PARTS
    missing = [p for p in parts if not hasattr(module, p)]
    if missing:
        return f"{type(module).__name__} has no {', '.join(missing)}"
    if family == "sam" and module.use_rel_pos and not all(
            hasattr(module, p) for p in ("rel_pos_h", "rel_pos_w")):
        return f"{type(module).__name__} has no rel_pos_h / rel_pos_w"
    reference = _reference_forward(type(module), family)
    params = list(inspect.signature(reference).parameters)
    expected = ["self", "hidden_states", "output_attentions"] if family == "sam" else [
        "self", "hidden_states", "kwargs"]
    if params != expected:
        return f"{type(module).__name__}.forward takes ({', '.join(params)})"
    if module.qkv.out_features != 3 * module.proj.in_features:
        return f"{type(module).__name__}.qkv is not three projections of proj's width"
    return None


def _reference_forward(cls: type, family: str) -> Any:
    """The forward of transformers' eager class (SamVisionAttention; Sam2MultiScaleAttention)."""
    name = "SamVisionAttention" if family == "sam" else "Sam2MultiScaleAttention"
    base: Any = next(c for c in cls.__mro__ if c.__name__ == name)
    return base.forward


_FUSED: dict[type, type] = {}


def _fused_class(cls: type, family: str) -> type:
    if cls not in _FUSED:
        forward = _sam_forward if family == "sam" else _sam2_forward
        _FUSED[cls] = type(f"Fused{cls.__name__}", (cls,), {
            "forward": forward, "_reference": staticmethod(_reference_forward(cls, family)),
            "__module__": __name__})
    return _FUSED[cls]


def _collector() -> Any:
    try:
        from transformers.utils.output_capturing import _active_collector
    except ImportError:
        return None
    return _active_collector if hasattr(_active_collector, "get") else None


def _attentions_wanted(output_attentions: Any = None) -> bool:
    if output_attentions:
        return True
    collected = _collector().get()
    return collected is not None and "attentions" in collected


def _sam_forward(self: Any, hidden_states: Tensor, output_attentions: Any = None
                 ) -> tuple[Tensor, Tensor | None]:
    """(B, H, W, C) tokens → ((B, H, W, C) attention output, None); the reference forward (which
    returns the weights) where attention weights are asked for or dropout is active."""
    if _attentions_wanted(output_attentions) or (self.training and self.dropout > 0):
        return self._reference(self, hidden_states, output_attentions=True)
    batch, height, width, _ = hidden_states.shape
    heads = self.num_attention_heads
    # (3, B·heads, H·W, d): each (batch, head) pair is one attention problem
    qkv = (self.qkv(hidden_states).reshape(batch, height * width, 3, heads, -1)
           .permute(2, 0, 3, 1, 4).reshape(3, batch * heads, height * width, -1))
    query, key, value = qkv.unbind(0)
    if self.use_rel_pos:
        out = _biased_attention(self, query, key, value, height, width)
    else:  # (P, 1, N, d): the CPU's fused kernel takes 4-d inputs only
        out = F.scaled_dot_product_attention(query[:, None], key[:, None], value[:, None],
                                             scale=self.scale)
    out = out.reshape(batch, heads, height, width, -1).permute(0, 2, 3, 1, 4).reshape(
        batch, height, width, -1)
    return self.proj(out), None


def _biased_attention(self: Any, query: Tensor, key: Tensor, value: Tensor, height: int,
                      width: int) -> Tensor:
    """(P, H·W, d) queries, keys, values of P independent problems → (P, H·W, d), with SAM's
    decomposed relative position bias added block by block of query rows (y)."""
    problems, tokens, _ = query.shape
    rel_h = self.get_rel_pos(height, height, self.rel_pos_h)  # (H, H', d)
    rel_w = self.get_rel_pos(width, width, self.rel_pos_w)  # (W, W', d)
    grid = query.reshape(problems, height, width, -1)
    bias_h = torch.einsum("bhwc,hkc->bhwk", grid, rel_h)  # (P, H, W, H')
    bias_w = torch.einsum("bhwc,wkc->bhwk", grid, rel_w)  # (P, H, W, W')
    dtype = torch.promote_types(bias_h.dtype, bias_w.dtype)
    row_bytes = width * tokens * torch.finfo(dtype).bits // 8
    budget = _BLOCK_BYTES.get(query.device.type, _BLOCK_BYTES["default"])
    rows = max(1, min(height, budget // max(1, problems * row_bytes)))
    group = max(1, min(problems, budget // (rows * row_bytes)))
    out = torch.empty(problems, tokens, value.shape[-1], dtype=query.dtype, device=query.device)
    buffer = torch.empty(group, rows, width, height, width, dtype=dtype, device=query.device)
    for p0 in range(0, problems, group):
        p1 = min(problems, p0 + group)
        for y0 in range(0, height, rows):
            y1 = min(height, y0 + rows)
            if torch.compiler.is_compiling():  # inductor lays out an out= result its own way
                bias = bias_h[p0:p1, y0:y1, :, :, None] + bias_w[p0:p1, y0:y1, :, None, :]
            else:
                bias = buffer[:p1 - p0, :y1 - y0]
                torch.add(bias_h[p0:p1, y0:y1, :, :, None], bias_w[p0:p1, y0:y1, :, None, :], out=bias)
            out[p0:p1, y0 * width:y1 * width] = F.scaled_dot_product_attention(
                query[p0:p1, None, y0 * width:y1 * width], key[p0:p1, None], value[p0:p1, None],
                attn_mask=bias.reshape(p1 - p0, 1, (y1 - y0) * width, tokens), scale=self.scale)[:, 0]
    return out


def _sam2_forward(self: Any, hidden_states: Tensor, **kwargs: Any) -> Tensor:
    """(B, H, W, C) tokens → (B, H', W', C') attention output, queries max-pooled by
    `query_stride` where set (H', W' the pooled size); the reference forward where attention
    weights are asked for."""
    if _attentions_wanted(kwargs.get("output_attentions")):
        return self._reference(self, hidden_states, **kwargs)
    batch, height, width, _ = hidden_states.shape
    heads = self.num_attention_heads
    # (3, B, heads, H·W, d)
    qkv = self.qkv(hidden_states).reshape(batch, height * width, 3, heads, -1).permute(2, 0, 3, 1, 4)
    query, key, value = qkv.unbind(0)
    if self.query_stride:
        grid = query.transpose(1, 2).reshape(batch, height, width, -1).permute(0, 3, 1, 2)
        grid = F.max_pool2d(grid, kernel_size=self.query_stride, stride=self.query_stride)
        height, width = grid.shape[2:]
        query = grid.reshape(batch, heads, -1, height * width).transpose(2, 3)
    out = F.scaled_dot_product_attention(query, key, value, scale=self.scale)
    return self.proj(out.transpose(1, 2).reshape(batch, height, width, -1))
