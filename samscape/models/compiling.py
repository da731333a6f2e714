"""`--compile`: the image encoder through `torch.compile`, for long runs.

`CompiledEmbedding` stands in for a loaded model's `get_image_embeddings` (the image encoder and
its neck; the mask decoder stays eager). The first call compiles (tens of seconds to minutes, the
progress bar says "compiling"); shapes are static, so a smaller last batch is padded with zero
chips to the compiled size and cut back after, instead of compiling again. If compiling fails (no
C++ compiler, an operator inductor cannot lower) one warning line is logged and the eager
encoder runs from then on. A model stays compiled for the process's life.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger(__name__)

__all__ = ["CompiledEmbedding"]

Embeddings = Any
"""What `get_image_embeddings` returns: a (B, C, h, w) tensor (SAM) or a list of them (SAM 2)."""


class CompiledEmbedding:
    """`eager` ((B, 3, S, S) float pixels → embeddings with the batch first) compiled on first
    call, for batches of `batch_size` (smaller ones padded; larger ones compile once more)."""

    def __init__(self, eager: Callable[[torch.Tensor], Embeddings], batch_size: int) -> None:
        self.eager = eager
        self.batch_size = batch_size
        self.compiled: Callable[[torch.Tensor], Embeddings] | None = torch.compile(eager, dynamic=False)
        self.calls = 0

    @property
    def failed(self) -> bool:
        """True once compiling failed and the eager encoder runs instead."""
        return self.compiled is None

    @property
    def ready(self) -> bool:
        """True once a call has compiled (or compiling failed): the next one costs no start-up."""
        return self.calls > 0 or self.failed

    def __call__(self, pixels: torch.Tensor) -> Embeddings:
        if self.compiled is None:
            return self.eager(pixels)
        count = pixels.shape[0]
        if count < self.batch_size:
            pad = pixels.new_zeros((self.batch_size - count, *pixels.shape[1:]))
            pixels = torch.cat([pixels, pad])
        try:
            out = self.compiled(pixels)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:  # compiling failed: inductor raises many kinds
            self.compiled = None
            log.warning("compiling the image encoder failed (%s); encoding without --compile", _reason(exc))
            return self.eager(pixels[:count])
        self.calls += 1
        if isinstance(out, torch.Tensor):
            return out[:count]
        return [t[:count] for t in out]


def _reason(exc: BaseException) -> str:
    """'Type: first line of the message' of the error under torch's BackendCompilerFailed wrapper."""
    inner = getattr(exc, "inner_exception", None) or exc
    lines = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {lines[0][:200]}" if lines else type(inner).__name__
