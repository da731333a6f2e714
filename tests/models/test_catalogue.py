"""The catalogue of model ids, built-in tiny models, status, and offline download behaviour."""

from __future__ import annotations

import re
import time

import huggingface_hub.constants
import pytest
import torch

import samscape.models
from samscape.errors import ModelNotAvailableError, UnknownModelError
from samscape.models import CATALOGUE, DEFAULT_MODEL, forget_backends, get_spec, load_backend, status
from samscape.models.store import models_dir

HUB_IDS = [
    "sam-vit-base", "sam-vit-large", "sam-vit-huge", "slimsam-50", "slimsam-77",
    "sam2.1-hiera-tiny", "sam2.1-hiera-small", "sam2.1-hiera-base-plus", "sam2.1-hiera-large",
]
TINY_IDS = ["tiny-random-sam", "tiny-random-sam2"]
BUNDLED_IDS = ["demo"]


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once, at import; the env var alone comes too late."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_catalogue_ids() -> None:
    assert sorted(CATALOGUE) == sorted(HUB_IDS + TINY_IDS + BUNDLED_IDS)
    assert DEFAULT_MODEL in CATALOGUE
    for model_id, spec in CATALOGUE.items():
        assert spec.id == model_id
        assert spec.family == ("sam2" if "sam2" in model_id else "sam")
        assert spec.description


@pytest.mark.parametrize("model_id", HUB_IDS)
def test_hub_entries_are_pinned(model_id: str) -> None:
    spec = CATALOGUE[model_id]
    assert spec.repository and "/" in spec.repository
    assert spec.revision
    assert spec.sha256 and re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
    assert not spec.builtin and not spec.tiny
    assert spec.input_size == 1024


@pytest.mark.parametrize("model_id", [m for m in HUB_IDS if m != "slimsam-77"])
def test_hub_revisions_are_commits(model_id: str) -> None:
    """slimsam-77 has no known weights commit: it is pinned by its weights' sha256 alone."""
    assert re.fullmatch(r"[0-9a-f]{40}", CATALOGUE[model_id].revision or "")


def test_hub_entries_are_distinct() -> None:
    specs = [CATALOGUE[m] for m in HUB_IDS]
    assert len({s.repository for s in specs}) == len(specs)
    assert len({s.sha256 for s in specs}) == len(specs)


@pytest.mark.parametrize("model_id", TINY_IDS)
def test_tiny_entries_are_builtin(model_id: str) -> None:
    spec = CATALOGUE[model_id]
    assert spec.builtin and spec.tiny
    assert spec.repository is None and spec.revision is None and spec.sha256 is None
    assert spec.input_size == 256


def test_demo_is_bundled_and_needs_no_download(samscape_home) -> None:
    spec = CATALOGUE["demo"]
    assert spec.builtin and spec.bundled == "demo" and not spec.tiny
    assert status("demo") == "built-in"
    backend = load_backend("demo", device="cpu", download_missing=False)
    assert backend.info.repository == "samscape"
    assert re.fullmatch(r"[0-9a-f]{64}", backend.info.weights_sha256)
    assert not models_dir().exists() or not any(models_dir().iterdir())


def test_unknown_id_lists_known_ids() -> None:
    with pytest.raises(UnknownModelError) as info:
        get_spec("nope")
    message = str(info.value)
    assert "'nope'" in message
    for model_id in CATALOGUE:
        assert model_id in message
    assert isinstance(info.value, KeyError)
    assert not message.startswith('"')  # not KeyError's quoted repr


def test_get_spec_returns_catalogue_entry() -> None:
    assert get_spec("sam-vit-base") is CATALOGUE["sam-vit-base"]


@pytest.mark.parametrize("model_id", TINY_IDS)
def test_tiny_model_is_reproducible(model_id: str) -> None:
    torch.manual_seed(123)  # the global seed must not matter
    first = load_backend(model_id, device="cpu")
    torch.manual_seed(456)
    forget_backends()  # build it again rather than share the loaded one
    second = load_backend(model_id, device="cpu")
    assert second is not first
    assert re.fullmatch(r"[0-9a-f]{64}", first.info.weights_sha256)
    assert first.info.weights_sha256 == second.info.weights_sha256
    assert first.info.id == model_id and first.info.input_size == 256
    assert first.info.repository is None and first.info.revision is None
    g = torch.Generator().manual_seed(0)
    chips = [torch.randint(0, 256, (256, 256, 3), dtype=torch.uint8, generator=g) for _ in range(2)]
    a = first.encode(chips, mixed_precision=False)
    b = second.encode(chips, mixed_precision=False)
    for fa, fb in zip(a, b, strict=True):
        assert fa.keys() == fb.keys()
        for name in fa:
            assert torch.equal(fa[name], fb[name])


def test_tiny_models_differ() -> None:
    sam = load_backend("tiny-random-sam", device="cpu")
    sam2 = load_backend("tiny-random-sam2", device="cpu")
    assert sam.info.weights_sha256 != sam2.info.weights_sha256
    assert sam.info.family == "sam" and sam2.info.family == "sam2"


def test_tiny_sam_features_depend_on_the_image() -> None:
    backend = load_backend("tiny-random-sam", device="cpu")
    dark = torch.zeros(256, 256, 3, dtype=torch.uint8)
    bright = torch.full((256, 256, 3), 255, dtype=torch.uint8)
    a, b = backend.encode([dark, bright], mixed_precision=False)
    assert a["image_embeddings"].std() > 1e-3
    assert (a["image_embeddings"] - b["image_embeddings"]).abs().max() > 1e-3


def test_status_values() -> None:
    assert status("tiny-random-sam") == "built-in"
    assert status("tiny-random-sam2") == "built-in"
    for model_id in HUB_IDS:
        assert status(model_id) == "not downloaded"
    with pytest.raises(UnknownModelError):
        status("nope")


def test_download_builtin_is_a_no_op() -> None:
    samscape.models.download("tiny-random-sam")
    assert not models_dir().exists() or not any(models_dir().iterdir())


def test_download_offline_fails_fast_and_cleans_up(offline_hub: None) -> None:
    start = time.monotonic()
    with pytest.raises(ModelNotAvailableError) as info:
        samscape.models.download("sam-vit-base", progress=False)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "samscape models import" in message
    assert "samscape models download sam-vit-base" in message
    assert "facebook/sam-vit-base" in message
    assert "HF_HUB_OFFLINE" in message
    leftovers = list(models_dir().iterdir()) if models_dir().exists() else []
    assert leftovers == []
    assert status("sam-vit-base") == "not downloaded"


def test_download_unknown_id() -> None:
    with pytest.raises(UnknownModelError):
        samscape.models.download("nope")


def test_load_without_download_names_the_command() -> None:
    with pytest.raises(ModelNotAvailableError, match="samscape models download sam-vit-base"):
        load_backend("sam-vit-base", download_missing=False)
    assert not models_dir().exists() or not any(models_dir().iterdir())


def test_load_missing_downloads_and_fails_offline(offline_hub: None) -> None:
    with pytest.raises(ModelNotAvailableError, match="samscape models import"):
        load_backend("sam2.1-hiera-tiny", device="cpu")
