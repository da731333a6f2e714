"""Where model weights live: the catalogue's and imported models' state, download from the hub,
import from a folder or a Meta checkpoint, remove. Needs no torch (`loading` builds the models;
`metaweights` converts checkpoints, loading torch only then)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

from platformdirs import user_cache_dir

from ..errors import ModelImportError, ModelNotAvailableError, ModelStoreError, UnknownModelError, reason
from .catalogue import CATALOGUE, Family, ModelSpec

PROVENANCE = "samscape-model.json"
WEIGHT_FILES = ("config.json", "*.safetensors", "preprocessor_config.json")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def samscape_home() -> Path:
    """$SAMSCAPE_HOME, else the user's cache directory."""
    return Path(os.environ.get("SAMSCAPE_HOME") or user_cache_dir("samscape"))


def models_dir() -> Path:
    return samscape_home() / "models"


def model_path(model_id: str) -> Path:
    return models_dir() / model_id


def imported_ids() -> list[str]:
    """Ids of models in the store that are not in the catalogue."""
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if _ID.match(p.name) and (p / PROVENANCE).is_file() and p.name not in CATALOGUE)


def provenance(model_id: str) -> dict | None:
    """The store's record of a model (samscape-model.json), None when the model is not in the
    store; ModelStoreError, with the fix, when the record is unreadable or incomplete."""
    file = model_path(model_id) / PROVENANCE
    if not file.is_file():
        return None
    problem: str | None
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = f"is not readable JSON ({reason(exc)})"
    else:
        problem = _record_problem(record)
    if problem is None:
        return record
    raise ModelStoreError(f"model {model_id!r} in the store is damaged: '{file}' {problem}; "
                          f"{refetch_hint(model_id)}")


def _record_problem(record: object) -> str | None:
    """What is wrong with a provenance record, or None."""
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, not a JSON object"
    if record.get("family") not in ("sam", "sam2"):
        return f"has family {record.get('family')!r}, not 'sam' or 'sam2'"
    size = record.get("input_size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= 16384:
        return f"has input_size {size!r}, not a positive whole number"
    if not isinstance(record.get("weights_sha256"), str) or not _SHA256.match(record["weights_sha256"]):
        return "has no valid weights_sha256"
    return None


def refetch_hint(model_id: str) -> str:
    spec = CATALOGUE.get(model_id)
    again = (f"'samscape models download {model_id}'" if spec is not None and spec.repository
             else f"'samscape models import FOLDER --id {model_id}'")
    return f"run 'samscape models remove {model_id}', then {again}"


def get_spec(model_id: str) -> ModelSpec:
    """The catalogue entry, or the recorded spec of an imported model."""
    if model_id in CATALOGUE:
        return CATALOGUE[model_id]
    record = provenance(model_id) if _ID.match(model_id) else None
    if record is not None:
        description = record.get("description")
        return ModelSpec(model_id, record["family"], record["input_size"],
                         description if isinstance(description, str) else "imported model")
    known = ", ".join([*CATALOGUE, *imported_ids()])
    raise UnknownModelError(f"unknown model id {model_id!r}; known ids: {known}")


def status(model_id: str) -> str:
    """'built-in', 'downloaded', 'imported', 'not downloaded', or 'broken' (a damaged record)."""
    try:
        spec = get_spec(model_id)
        if spec.builtin:
            return "built-in"
        record = provenance(model_id)
    except ModelStoreError:
        return "broken"
    if record is None:
        return "not downloaded"
    origin = record.get("origin")
    return origin if origin in ("downloaded", "imported") else "downloaded"


def describe(model_id: str) -> dict:
    """A model's catalogue facts and `status`, as JSON-ready values; a damaged model in the store
    is described too, with status 'broken' and `problem` saying how to fix it."""
    try:
        spec = get_spec(model_id)
        problem = None if spec.builtin else _problem(model_id)
    except ModelStoreError as exc:  # an imported model whose record is damaged
        spec, problem = ModelSpec(model_id, "sam", 0, "damaged import"), str(exc)
    return {
        "id": spec.id, "family": None if spec.input_size == 0 else spec.family,
        "input_size": spec.input_size or None, "repository": spec.repository,
        "revision": spec.revision, "status": "broken" if problem else status(model_id),
        "test_only": bool(spec.tiny), "description": spec.description, "problem": problem,
        "size_bytes": disk_bytes(spec),
    }


def disk_bytes(spec: ModelSpec) -> int | None:
    """Bytes the model's files take on this machine: its store folder, or the package's folder of
    a bundled model; None when it has none (not downloaded, or built from a config)."""
    if spec.tiny:
        return None
    folder = bundled_path(spec) if spec.bundled else model_path(spec.id)
    if not folder.is_dir():
        return None
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _problem(model_id: str) -> str | None:
    try:
        provenance(model_id)
    except ModelStoreError as exc:
        return str(exc)
    return None


def known_ids() -> list[str]:
    """The catalogue's ids, then the imported models'."""
    return [*CATALOGUE, *imported_ids()]


def download(model_id: str, progress: bool = True) -> Path:
    """Fetch a catalogue model's pinned weights from the hub into the store."""
    spec = get_spec(model_id)
    if spec.builtin:
        return model_path(model_id)
    if spec.repository is None:
        raise ModelNotAvailableError(
            f"model {model_id!r} was imported and has no hub repository; import it again"
        )
    target = model_path(model_id)
    if (target / PROVENANCE).is_file():
        return target
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    staging = _staging(model_id)
    (enable_progress_bars if progress else disable_progress_bars)()
    try:
        _check_hub_reachable()
        snapshot_download(spec.repository, revision=spec.revision, local_dir=staging,
                          allow_patterns=list(WEIGHT_FILES))
    except Exception as exc:  # the hub client raises many kinds for "offline"
        shutil.rmtree(staging, ignore_errors=True)
        why = reason(exc)
        raise ModelNotAvailableError(
            f"model {model_id!r} is not on this machine and could not be downloaded from "
            f"{spec.repository} ({why}); run 'samscape models download {model_id}' where "
            f"there is internet, or 'samscape models import FOLDER --id {model_id}' with a "
            "folder holding its config.json and model.safetensors"
        ) from None
    shutil.rmtree(staging / ".cache", ignore_errors=True)
    digest = weights_sha256(staging)
    if spec.sha256 and digest != spec.sha256:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelNotAvailableError(
            f"the weights downloaded for {model_id!r} have sha256 {digest}, not the pinned "
            f"{spec.sha256}; the hub repository {spec.repository} changed: report this, or "
            f"import a known-good copy with 'samscape models import FOLDER --id {model_id}'"
        )
    return _commit(staging, spec, digest, origin="downloaded")


def import_model(path: str | os.PathLike, model_id: str) -> Path:
    """Import a `transformers` folder (`import_folder`) or a Meta-format checkpoint file
    (`import_checkpoint`) into the store under `model_id`."""
    return (import_checkpoint if Path(path).is_file() else import_folder)(path, model_id)


def import_folder(folder: str | os.PathLike, model_id: str) -> Path:
    """Copy a local `transformers` SAM/SAM 2 folder (config.json + *.safetensors) into the store."""
    src = Path(folder)
    _check_new_id(model_id)
    config_file = src / "config.json"
    if not config_file.is_file() or not list(src.glob("*.safetensors")):
        raise ModelImportError(
            f"'{src}' does not hold config.json and *.safetensors; point to a folder saved by "
            "transformers (save_pretrained) or downloaded from the hub"
        )
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelImportError(f"'{config_file}' is not valid JSON ({exc})") from None
    families: dict[str, Family] = {"sam": "sam", "sam2": "sam2"}
    family = families.get(config.get("model_type"))
    if family is None:
        raise ModelImportError(
            f"'{src}' holds a {config.get('model_type')!r} model; samscape imports 'sam' and "
            "'sam2' models"
        )
    if model_id in CATALOGUE:
        spec = CATALOGUE[model_id]
        if spec.builtin or spec.family != family:
            raise ModelImportError(
                f"'{src}' holds a {family} model, which cannot stand for catalogue model "
                f"{model_id!r} ({spec.description}); import it under another id"
            )
    else:
        spec = ModelSpec(model_id, family, config_input_size(config), f"imported from {src.resolve()}")
    digest = weights_sha256(src)
    if spec.sha256 and digest != spec.sha256:
        raise ModelImportError(
            f"the weights in '{src}' have sha256 {digest}, not the pinned {spec.sha256} of "
            f"{model_id!r}; import them under an id of your own (e.g. --id my-{spec.family})"
        )
    staging = _staging(model_id)
    for pattern in WEIGHT_FILES:
        for file in src.glob(pattern):
            shutil.copy2(file, staging / file.name)
    return _commit(staging, spec, digest, origin="imported")


def import_checkpoint(file: str | os.PathLike, model_id: str) -> Path:
    """Convert a Meta-format SAM / SAM 2 checkpoint (`sam_vit_b_01ec64.pth`, `sam2.1_hiera_tiny.pt`,
    Ultralytics' `sam_b.pt`, ...) to a transformers folder in the store (see `metaweights`). The
    file is loaded with weights_only=True; the record keeps its name and sha256."""
    src = Path(file)
    _check_new_id(model_id)
    if model_id in CATALOGUE:
        raise ModelImportError(
            f"{model_id!r} is a catalogue id, which names the pinned weights from "
            f"{CATALOGUE[model_id].repository or 'samscape'}; import the checkpoint under an id of "
            f"your own (e.g. --as my-{model_id})"
        )
    from .metaweights import load_state_dict, write_model_folder

    source_sha256 = _file_sha256(src)
    state = load_state_dict(src)
    staging = _staging(model_id)
    try:
        family = write_model_folder(state, staging)
        config = json.loads((staging / "config.json").read_text())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    spec = ModelSpec(model_id, family, config_input_size(config),
                     f"converted from the Meta checkpoint {src.name}")
    return _commit(staging, spec, weights_sha256(staging), origin="imported",
                   extra={"source_file": str(src.resolve()), "source_sha256": source_sha256,
                          "converted_from": "meta"})


def _check_new_id(model_id: str) -> None:
    if not _ID.match(model_id):
        raise ModelImportError(
            f"model id {model_id!r} is not valid; use lower-case letters, digits, '.', '_', '-'"
        )
    if (model_path(model_id) / PROVENANCE).is_file():
        raise ModelImportError(
            f"model {model_id!r} is already in the store; run 'samscape models remove "
            f"{model_id}' first"
        )


def _file_sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def remove(model_id: str) -> None:
    """Delete a model's folder from the store; works on a damaged one too."""
    spec = CATALOGUE.get(model_id)
    if spec is not None and spec.builtin:
        raise ModelImportError(f"model {model_id!r} is built in; there is nothing to remove")
    target = model_path(model_id)
    if spec is None and not (_ID.match(model_id) and (target / PROVENANCE).is_file()):
        get_spec(model_id)  # raises UnknownModelError naming the known ids
    if not target.exists():
        raise ModelNotAvailableError(f"model {model_id!r} is not downloaded; nothing to remove")
    shutil.rmtree(target)


def bundled_path(spec: ModelSpec) -> Path:
    """The package folder holding a bundled model's config.json, weights and model card."""
    return Path(__file__).parent / "bundled" / str(spec.bundled)


def config_input_size(config: dict) -> int:
    """The encoder's square input size from a SAM (vision_config.image_size) or SAM 2
    (vision_config.backbone_config.image_size) config dict."""
    vision = config.get("vision_config") or {}
    size = vision.get("image_size") or (vision.get("backbone_config") or {}).get("image_size", 1024)
    return int(size[0] if isinstance(size, (list, tuple)) else size)


def _check_hub_reachable() -> None:
    """Fail at once when the hub's host does not resolve, rather than after the client's retries."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise OSError("HF_HUB_OFFLINE is set")
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        raise OSError(f"cannot reach {host}: {exc.strerror or exc}") from None


def _staging(model_id: str) -> Path:
    staging = models_dir() / f".staging-{model_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    return staging


def weights_sha256(folder: Path) -> str:
    """sha256 of the weights: of model.safetensors, or of all *.safetensors in name order."""
    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.safetensors")):
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _commit(staging: Path, spec: ModelSpec, sha256: str, origin: str, extra: dict | None = None) -> Path:
    """Record provenance and move the staged folder into place in one rename."""
    record = {
        "id": spec.id, "family": spec.family, "input_size": spec.input_size,
        "description": spec.description, "repository": spec.repository,
        "revision": spec.revision, "weights_sha256": sha256, "origin": origin, **(extra or {}),
    }
    (staging / PROVENANCE).write_text(json.dumps(record, indent=2))
    target = model_path(spec.id)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target
