"""Loading models from many threads at once: each load works, one model is built once and shared,
and a failed load leaves later loads working."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from samscape.errors import SamscapeError
from samscape.models import forget_backends, import_folder, load_backend, model_path


def in_threads(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in one thread each, released together; each result or the exception raised."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # reported to the test, which checks it
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def encodes(backend: object) -> None:
    chip = torch.full((256, 256, 3), 128, dtype=torch.uint8)
    features = backend.encode([chip], mixed_precision=False)[0]
    assert all(torch.isfinite(t).all() for t in features.values())


@pytest.mark.parametrize("threads", [2, 6])
def test_one_model_from_many_threads_is_built_once_and_shared(threads: int) -> None:
    forget_backends()
    results = in_threads([lambda: load_backend("demo", device="cpu")] * threads)
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len({id(r) for r in results}) == 1  # one backend, shared
    encodes(results[0])
    # a later load (say, a job after two sources opened) gets the same backend
    assert load_backend("demo", device="cpu") is results[0]


def test_different_models_from_many_threads() -> None:
    forget_backends()
    ids = ["demo", "tiny-random-sam", "tiny-random-sam2", "demo", "tiny-random-sam", "tiny-random-sam2"]
    results = in_threads([lambda m=m: load_backend(m, device="cpu") for m in ids])
    assert [r.info.id for r in results] == ids
    for r in results:
        encodes(r)
    # the tiny models' fixed-seed weights do not depend on what else was loading at the time
    forget_backends()
    for i in (1, 2):
        alone = load_backend(ids[i], device="cpu")
        assert alone is not results[i] and alone.info.weights_sha256 == results[i].info.weights_sha256


def test_a_failed_load_does_not_poison_later_loads(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    load_backend("tiny-random-sam", device="cpu").model.save_pretrained(folder)
    import_folder(folder, "my-broken")
    next(model_path("my-broken").glob("*.safetensors")).write_bytes(b"not safetensors")
    forget_backends()
    calls = [lambda: load_backend("my-broken", device="cpu"), lambda: load_backend("demo", device="cpu")] * 3
    results = in_threads(calls)
    assert all(isinstance(r, Exception) for r in results[0::2])
    assert all(not isinstance(r, Exception) for r in results[1::2])
    # after the failures, every model still loads, from any thread
    forget_backends()
    later = in_threads([lambda: load_backend("demo", device="cpu"),
                        lambda: load_backend("tiny-random-sam", device="cpu")])
    assert not any(isinstance(r, Exception) for r in later)
    for r in later:
        encodes(r)


def test_a_failed_load_is_a_one_line_samscape_error(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    load_backend("tiny-random-sam", device="cpu").model.save_pretrained(folder)
    path = import_folder(folder, "my-truncated")
    next(path.glob("*.safetensors")).write_bytes(b"\x00" * 16)
    with pytest.raises(SamscapeError, match="my-truncated") as info:
        load_backend("my-truncated", device="cpu")
    assert "\n" not in str(info.value) and "samscape models remove my-truncated" in str(info.value)
