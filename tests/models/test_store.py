"""The local model store: import a transformers folder, load it offline, remove it."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from samscape.errors import ModelImportError, ModelNotAvailableError, UnknownModelError
from samscape.models import (
    CATALOGUE,
    get_spec,
    import_folder,
    imported_ids,
    load_architecture,
    load_backend,
    model_path,
    remove,
    status,
)
from samscape.models.store import PROVENANCE, models_dir


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two tiny models, saved with save_pretrained (safetensors); built once per module."""
    root = tmp_path_factory.mktemp("saved-models")
    folders = {}
    for model_id in ("tiny-random-sam", "tiny-random-sam2"):
        folder = root / model_id
        load_backend(model_id, device="cpu").model.save_pretrained(folder)
        folders[model_id] = folder
    return folders


def chips() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randint(0, 256, (256, 256, 3), dtype=torch.uint8, generator=g) for _ in range(2)]


def assert_same_features(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> None:
    assert len(a) == len(b)
    for fa, fb in zip(a, b, strict=True):
        assert fa.keys() == fb.keys()
        for name in fa:
            assert fa[name].shape == fb[name].shape
            torch.testing.assert_close(fa[name], fb[name], atol=0, rtol=0)


def no_staging_left() -> bool:
    return not any(p.name.startswith(".staging") for p in models_dir().glob(".*"))


def test_saved_folder_is_safetensors(saved: dict[str, Path]) -> None:
    for folder in saved.values():
        assert (folder / "config.json").is_file()
        assert list(folder.glob("*.safetensors"))
        assert not list(folder.glob("*.bin"))


@pytest.mark.parametrize(("source", "model_id"),
                         [("tiny-random-sam2", "my-sam2"), ("tiny-random-sam", "my-sam")])
def test_import_round_trip(saved: dict[str, Path], source: str, model_id: str) -> None:
    assert imported_ids() == []
    with pytest.raises(UnknownModelError):
        status(model_id)

    path = import_folder(saved[source], model_id)

    assert path == model_path(model_id) and path.is_dir()
    assert status(model_id) == "imported"
    assert imported_ids() == [model_id]
    assert no_staging_left()
    record = json.loads((path / PROVENANCE).read_text())
    assert record["origin"] == "imported" and record["id"] == model_id
    assert record["family"] == CATALOGUE[source].family
    assert record["repository"] is None and record["revision"] is None
    spec = get_spec(model_id)
    assert spec.family == CATALOGUE[source].family
    assert spec.input_size == CATALOGUE[source].input_size == 256
    assert not spec.builtin

    original = load_backend(source, device="cpu")
    loaded = load_backend(model_id, device="cpu", download_missing=False)
    assert loaded.info.id == model_id
    assert loaded.info.weights_sha256 == record["weights_sha256"]
    assert loaded.info.input_size == 256
    assert loaded.feature_shapes() == original.feature_shapes()
    batch = chips()
    assert_same_features(loaded.encode(batch, mixed_precision=False),
                         original.encode(batch, mixed_precision=False))


@pytest.mark.parametrize("source", ["tiny-random-sam", "tiny-random-sam2"])
def test_architecture_plans_as_the_loaded_model_without_its_weights(saved: dict[str, Path],
                                                                    source: str) -> None:
    import_folder(saved[source], "planned")
    weights = model_path("planned") / "model.safetensors"
    assert weights.is_file()
    weights.write_bytes(b"not read")

    architecture = load_architecture("planned")

    assert {p.device.type for p in architecture.model.parameters()} == {"meta"}
    original = load_backend(source, device="cpu")
    assert architecture.feature_shapes() == original.feature_shapes()
    assert architecture.preprocessing == original.preprocessing
    assert architecture.info.weights_sha256 == json.loads(
        (model_path("planned") / PROVENANCE).read_text())["weights_sha256"]
    assert architecture.info.input_size == 256
    assert load_architecture(source).model is original.model  # built-in: the loaded model


def test_import_twice_is_refused(saved: dict[str, Path]) -> None:
    import_folder(saved["tiny-random-sam2"], "my-sam2")
    with pytest.raises(ModelImportError, match="already in the store"):
        import_folder(saved["tiny-random-sam2"], "my-sam2")
    assert status("my-sam2") == "imported"
    assert no_staging_left()


def test_import_needs_config_and_weights(saved: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelImportError, match="config.json"):
        import_folder(empty, "my-empty")
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(saved["tiny-random-sam"] / "config.json", config_only)
    with pytest.raises(ModelImportError):
        import_folder(config_only, "my-config-only")
    weights_only = tmp_path / "weights-only"
    shutil.copytree(saved["tiny-random-sam"], weights_only)
    (weights_only / "config.json").unlink()
    with pytest.raises(ModelImportError):
        import_folder(weights_only, "my-weights-only")
    with pytest.raises(ModelImportError):
        import_folder(tmp_path / "does-not-exist", "my-missing")
    assert imported_ids() == []
    assert not models_dir().exists() or not any(models_dir().iterdir())


def test_import_rejects_other_model_types(saved: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "vit"
    shutil.copytree(saved["tiny-random-sam"], folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    with pytest.raises(ModelImportError, match="'vit'"):
        import_folder(folder, "my-vit")
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ModelImportError, match="not valid JSON"):
        import_folder(folder, "my-vit")


@pytest.mark.parametrize("bad_id", ["My-Model", "-leading", "a/b", "..", "", "x" * 65])
def test_import_rejects_bad_ids(saved: dict[str, Path], bad_id: str) -> None:
    with pytest.raises(ModelImportError, match="not valid"):
        import_folder(saved["tiny-random-sam"], bad_id)


def test_family_mismatch_is_refused(saved: dict[str, Path]) -> None:
    with pytest.raises(ModelImportError, match="sam2 model"):
        import_folder(saved["tiny-random-sam2"], "sam-vit-base")
    with pytest.raises(ModelImportError, match="sam model"):
        import_folder(saved["tiny-random-sam"], "sam2.1-hiera-tiny")
    assert status("sam-vit-base") == "not downloaded"
    assert status("sam2.1-hiera-tiny") == "not downloaded"


def test_builtin_ids_cannot_be_imported_over(saved: dict[str, Path]) -> None:
    with pytest.raises(ModelImportError):
        import_folder(saved["tiny-random-sam"], "tiny-random-sam")
    assert status("tiny-random-sam") == "built-in"


@pytest.fixture
def pinned_to_tiny(saved: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin catalogue entry sam-vit-base to the saved tiny SAM's weights, as if they were Meta's."""
    digest = hashlib.sha256((saved["tiny-random-sam"] / "model.safetensors").read_bytes()).hexdigest()
    monkeypatch.setitem(CATALOGUE, "sam-vit-base", replace(CATALOGUE["sam-vit-base"], sha256=digest))


def test_import_under_catalogue_id_checks_the_pinned_sha256(saved: dict[str, Path]) -> None:
    with pytest.raises(ModelImportError, match="not the pinned"):
        import_folder(saved["tiny-random-sam"], "sam-vit-base")
    assert status("sam-vit-base") == "not downloaded"
    assert no_staging_left()


@pytest.mark.usefixtures("pinned_to_tiny")
def test_import_under_catalogue_id_loads_offline(saved: dict[str, Path]) -> None:
    import_folder(saved["tiny-random-sam"], "sam-vit-base")
    assert status("sam-vit-base") == "imported"
    assert imported_ids() == []  # catalogue ids are not listed as custom imports

    loaded = load_backend("sam-vit-base", device="cpu", download_missing=False)
    original = load_backend("tiny-random-sam", device="cpu")
    # The encoder runs at the size the weights were built for, not the catalogue's 1024.
    assert loaded.info.input_size == 256
    assert loaded.preprocessing.input_size == 256
    batch = chips()
    assert_same_features(loaded.encode(batch, mixed_precision=False),
                         original.encode(batch, mixed_precision=False))
    masks, _ = loaded.decode(loaded.encode(batch[:1])[0], (256, 256),
                             points=torch.tensor([[100.0, 120.0]]), labels=torch.tensor([1]))
    assert masks.shape == (3, 256, 256)


def test_remove_imported(saved: dict[str, Path]) -> None:
    import_folder(saved["tiny-random-sam2"], "my-sam2")
    remove("my-sam2")
    assert not model_path("my-sam2").exists()
    assert imported_ids() == []
    with pytest.raises(UnknownModelError):
        status("my-sam2")
    with pytest.raises(UnknownModelError):
        load_backend("my-sam2", device="cpu")
    # and it can be imported again afterwards
    import_folder(saved["tiny-random-sam2"], "my-sam2")
    assert status("my-sam2") == "imported"


@pytest.mark.usefixtures("pinned_to_tiny")
def test_remove_catalogue_import_restores_not_downloaded(saved: dict[str, Path]) -> None:
    import_folder(saved["tiny-random-sam"], "sam-vit-base")
    remove("sam-vit-base")
    assert status("sam-vit-base") == "not downloaded"


def test_remove_builtin_is_refused() -> None:
    with pytest.raises(ModelImportError, match="built in"):
        remove("tiny-random-sam")


def test_remove_missing() -> None:
    with pytest.raises(ModelNotAvailableError, match="not downloaded"):
        remove("sam-vit-base")
    with pytest.raises(UnknownModelError):
        remove("my-never-imported")
