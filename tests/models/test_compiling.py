"""`--compile`: the compiled image encoder equals the eager one; a failed compile falls back."""

from __future__ import annotations

import copy
import logging

import pytest
import torch

from samscape.models import SamBackend, load_backend
from samscape.models.compiling import CompiledEmbedding


def fresh(model_id: str) -> SamBackend:
    """A backend of its own (compiling changes a backend; the process's shared one stays eager)."""
    shared = load_backend(model_id, device="cpu")
    return SamBackend(shared.spec, copy.deepcopy(shared.model), shared.info, shared.device)


def chips(count: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (256, 256, 3), dtype=torch.uint8, generator=g) for _ in range(count)]


@pytest.mark.slow
def test_compiled_features_equal_eager_ones_and_a_short_batch_is_padded() -> None:
    """One family: compiling wraps `get_image_embeddings` the same way for both (CI time)."""
    eager, compiled = fresh("tiny-random-sam"), fresh("tiny-random-sam")
    compiler = compiled.compile(3)
    assert compiled.compile(5) is compiler and not compiler.ready
    batch = chips(3)
    for got in (compiled.encode(batch), compiled.encode(batch[:2])):  # the second padded to 3
        for mine, theirs in zip(got, eager.encode(batch), strict=False):
            assert mine.keys() == theirs.keys()
            for name in mine:
                torch.testing.assert_close(mine[name], theirs[name], rtol=1e-3, atol=1e-4)
    assert compiler.ready and not compiler.failed and compiler.calls == 2


def test_a_compile_that_fails_falls_back_to_eager_with_one_warning(monkeypatch, caplog) -> None:
    import torch._inductor.config as inductor

    monkeypatch.setattr(inductor.cpp, "cxx", ("/nonexistent/c++",))
    monkeypatch.setattr(inductor, "fx_graph_cache", False)
    backend, eager = fresh("tiny-random-sam"), load_backend("tiny-random-sam", device="cpu")
    compiler = backend.compile(2)
    torch._dynamo.reset()
    batch = chips(2, seed=3)
    with caplog.at_level(logging.WARNING, logger="samscape.models.compiling"):
        got = backend.encode(batch)
    assert compiler.failed and compiler.ready
    warnings = [r.getMessage() for r in caplog.records if r.name == "samscape.models.compiling"]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert warnings[0].startswith("compiling the image encoder failed (")
    assert warnings[0].endswith("); encoding without --compile")
    for mine, theirs in zip(got, eager.encode(batch), strict=True):
        torch.testing.assert_close(mine["image_embeddings"], theirs["image_embeddings"])
    assert isinstance(backend.model.get_image_embeddings, CompiledEmbedding)
