"""Loading a model from the catalogue or the store into a `SamBackend`, once per process and device."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import torch

from ..errors import ModelNotAvailableError, ModelStoreError, reason
from .allocator import reuse_freed_memory
from .backend import ModelInfo, SamBackend, pick_device
from .cache import BUILD_LOCK, key_lock, shared
from .catalogue import ModelSpec
from .store import (
    PROVENANCE,
    bundled_path,
    config_input_size,
    download,
    get_spec,
    model_path,
    provenance,
    refetch_hint,
    weights_sha256,
)

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

T = TypeVar("T")


def load_backend(model_id: str, device: str = "auto", download_missing: bool = True
                 ) -> SamBackend:
    """The model ready to run on `device`: built (tiny), or loaded from the store (downloading if
    allowed). Safe from any number of threads: one model is built once per process and device and
    shared by every caller (see `cache`); the backend is read-only, so sharing it is safe."""
    reuse_freed_memory()
    spec = get_spec(model_id)
    dev = pick_device(device)
    if spec.builtin:
        return shared((spec.id, str(dev)), lambda: _load_builtin(spec, dev))
    path = model_path(model_id)
    if not (path / PROVENANCE).is_file():
        if not download_missing:
            raise ModelNotAvailableError(
                f"model {model_id!r} is not downloaded; run 'samscape models download {model_id}'"
            )
        with key_lock(("download", str(path))):
            path = download(model_id)
    record = provenance(model_id)
    if record is None:  # removed while we looked
        raise ModelNotAvailableError(
            f"model {model_id!r} is not downloaded; run 'samscape models download {model_id}'")
    key = (spec.id, str(dev), str(path), record["weights_sha256"])
    return shared(key, lambda: _load_stored(spec, path, record, dev))


def _load_builtin(spec: ModelSpec, dev: torch.device) -> SamBackend:
    if spec.bundled:
        path = bundled_path(spec)
        with BUILD_LOCK:
            model = _model_class(spec.family).from_pretrained(path)
        info = ModelInfo(spec.id, spec.family, "samscape", _version(), weights_sha256(path),
                         spec.input_size)
        return SamBackend(spec, model, info, dev)
    with BUILD_LOCK:
        model, sha = _build_tiny(spec)
    info = ModelInfo(spec.id, spec.family, None, None, sha, spec.input_size)
    return SamBackend(spec, model, info, dev)


def load_architecture(model_id: str) -> SamBackend:
    """The model as planning needs it (input size, preprocessing, feature shapes, provenance): for
    a model in the store, its architecture from the stored config on the meta device, without
    reading its weights, so that a client planning a cluster's encoding loads no gigabytes; such
    a backend cannot encode. Built-in models, and models not in the store yet (downloaded first),
    load as `load_backend` loads them, on the CPU."""
    spec = get_spec(model_id)
    record = None if spec.builtin else provenance(model_id)
    if record is None:
        return load_backend(model_id, "cpu")
    path = model_path(model_id)
    model_class = _model_class(spec.family)
    config = _stored(spec, path, lambda: _config_class(spec.family).from_pretrained(path))
    with torch.device("meta"):
        model = model_class(config)
    return _stored_backend(spec, model, record, torch.device("meta"))


def _load_stored(spec: ModelSpec, path: Path, record: dict, dev: torch.device) -> SamBackend:
    with BUILD_LOCK:
        model = _stored(spec, path, lambda: _model_class(spec.family).from_pretrained(path))
    return _stored_backend(spec, model, record, dev)


def _stored(spec: ModelSpec, path: Path, read: Callable[[], T]) -> T:
    """`read()` of the store's folder `path`; ModelStoreError, with the fix, when it fails."""
    try:
        return read()
    except Exception as exc:  # safetensors, JSON and transformers raise many kinds for bad files
        why = reason(exc)
        raise ModelStoreError(f"model {spec.id!r} in the store cannot be loaded from '{path}' "
                              f"({why}); {refetch_hint(spec.id)}") from None


def _stored_backend(spec: ModelSpec, model: PreTrainedModel, record: dict, dev: torch.device
                    ) -> SamBackend:
    spec = replace(spec, input_size=config_input_size(model.config.to_dict()))
    info = ModelInfo(spec.id, spec.family, record.get("repository"), record.get("revision"),
                     record["weights_sha256"], spec.input_size)
    return SamBackend(spec, model, info, dev)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("samscape")
    except PackageNotFoundError:
        return "unknown"


def _model_class(family: str) -> type[PreTrainedModel]:
    from transformers import Sam2Model, SamModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()

    return Sam2Model if family == "sam2" else SamModel


def _config_class(family: str) -> type[PretrainedConfig]:
    from transformers import Sam2Config, SamConfig

    return Sam2Config if family == "sam2" else SamConfig


def _build_tiny(spec: ModelSpec) -> tuple[PreTrainedModel, str]:
    config = _config_class(spec.family)(**spec.tiny)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = _model_class(spec.family)(config)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().numpy().tobytes())
    return model, digest.hexdigest()
