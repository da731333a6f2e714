"""`convert`: a Geo-SAM v2 folder into a samscape feature folder, or the other way.

The destination is written into a temporary folder beside it and renamed into place only when
whole, so a failure or a kill leaves no partial destination (a killed run's temporary folder is
removed by the next conversion to the same place). A destination that exists must be an empty
folder. Every chip is loaded and checked before it is written.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path, PureWindowsPath

import pyproj
from tqdm.auto import tqdm

from .. import validate
from ..errors import FeatureFolderError, FolderConflictError, FolderWriteError, SettingsError
from ..geo import ChipGrid
from ..models import get_spec
from ..raster import RasterSource
from .folder import FeatureFolder
from .geosam.checkpoints import GEOSAM_REGISTRY, checkpoint_for_model, may_record, model_for_checkpoint
from .geosam.chips import write_geosam_chip
from .geosam.folder import GeosamFolder, local_raster
from .geosam.manifest import GeosamRow, write_geosam_manifest
from .manifest import FEATURES_DIR
from .metadata import FolderMetadata
from .opening import open_folder
from .origin import find_raster
from .temporaries import abandoned
from .writer import FolderState

Progress = Callable[[int, int], None]
TARGETS = ("samscape", "geosam")


def convert(src: str | os.PathLike, dst: str | os.PathLike, to: str, *, base_path: str | None = None,
            checkpoint: str | None = None, progress: bool | Progress = True) -> Path:
    """Convert the feature folder `src` into `dst` in format `to` ("samscape" or "geosam").

    To samscape: a Geo-SAM v2 folder becomes a samscape folder (float16 chips, relative paths).
    To geosam: a samscape folder becomes a Geo-SAM v2 folder (float32), its `feature_path`s
    absolute under `base_path` (where the folder will be used) or under `dst`; `checkpoint` names
    the checkpoint file for a model Geo-SAM's plugin does not list (it must be `<model id>.pt`).
    progress: True for a progress bar, or a callable(done, total). Returns `dst`.
    """
    if to not in TARGETS:
        raise SettingsError(f"format {to!r} is not valid: give one of {', '.join(TARGETS)}")
    progress = validate.progress(progress)
    base_path = validate.path_text("base_path", base_path)
    checkpoint = validate.path_text("checkpoint", checkpoint)
    if base_path is not None and to != "geosam":
        raise SettingsError("base_path is only for --to geosam; drop it")
    if checkpoint is not None and to != "geosam":
        raise SettingsError("checkpoint is only for --to geosam; drop it")
    source = open_folder(src)
    target = Path(dst)
    if _same_folder(src, target):
        raise FolderConflictError(f"SRC and DST are both '{dst}'; convert writes a new folder: give a "
                                  "new or empty DST")
    if to == "samscape":
        check_destination(target)
        if not isinstance(source, GeosamFolder):
            raise FeatureFolderError(f"'{src}' is already a samscape feature folder; nothing to convert")
        write: Callable[[Path, Callable[[int], None]], None] = \
            lambda tmp, step: _to_samscape(source, tmp, step)  # noqa: E731
    else:
        if isinstance(source, GeosamFolder):
            check_destination(target)
            raise FeatureFolderError(f"'{src}' is already a Geo-SAM folder; nothing to convert")
        name, root = check_geosam_target(source.metadata.model.id, target, base_path, checkpoint)
        check_geosam_geometry(source.metadata, f"'{source.path}'")
        write = lambda tmp, step: _to_geosam(source, tmp, name, root, step)  # noqa: E731
    _atomically(target, len(source), progress, write)
    return target


def _same_folder(src: str | os.PathLike, dst: Path) -> bool:
    try:
        return os.path.samefile(src, dst)
    except (OSError, ValueError):  # dst not there, or src a URL
        return False


def check_destination(dst: Path) -> None:
    """Refuse a `dst` that is a file or a folder that is not empty (convert never replaces one)."""
    if dst.exists() and not dst.is_dir():
        raise FolderConflictError(f"'{dst}' is a file; give a new or empty folder")
    if dst.is_dir() and any(dst.iterdir()):
        raise FolderConflictError(f"'{dst}' is not empty; give a new or empty folder")


def _atomically(dst: Path, total: int, progress: bool | Progress,
                write: Callable[[Path, Callable[[int], None]], None]) -> None:
    """Run `write` into a temporary folder beside `dst`, then rename it to `dst`."""
    parent = dst.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for old in parent.glob(f".{dst.name}.*.tmp"):
            if old.is_dir() and abandoned(old):
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        raise FolderWriteError(f"cannot write beside '{dst}': {exc.strerror}; choose a folder you can "
                               "write to") from None
    tmp = parent / f".{dst.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    bar = tqdm(total=total, unit="chip", desc="converting", disable=progress is not True,
               dynamic_ncols=True, leave=False)
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        bar.update(count)
        if callable(progress):
            progress(done, total)

    try:
        (tmp / FEATURES_DIR).mkdir(parents=True)
        write(tmp, step)
        if dst.is_dir():
            dst.rmdir()  # empty, checked before; a folder appearing meanwhile is not replaced
        os.rename(tmp, dst)
    except OSError as exc:
        if isinstance(exc, FolderWriteError):
            raise
        raise FolderWriteError(f"cannot write '{dst}': {exc.strerror or exc}; choose a folder you can "
                               "write to, or free some space") from None
    finally:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _expected_sha256(model_id: str) -> str:
    """The digest samscape records for the weights of `model_id` (what a folder of it records)."""
    from ..models import load_backend
    from ..models.store import provenance

    spec = get_spec(model_id)
    if spec.sha256:
        return spec.sha256
    record = None if spec.builtin else provenance(model_id)
    if record is not None:
        return str(record["weights_sha256"])
    return load_backend(model_id, "cpu", download_missing=False).info.weights_sha256


def _to_samscape(source: GeosamFolder, tmp: Path, step: Callable[[int], None]) -> None:
    """Geo-SAM → samscape: the metadata as far as known (see docs/formats.md), chips as float16."""
    from .. import __version__

    meta = source.metadata
    pre = meta.preprocessing if source.origin is None else source.origin.preprocessing
    raster = local_raster(source.path, source.source_path)
    fingerprint = pre.source_fingerprint
    if raster is not None:
        try:
            with RasterSource(raster) as opened:
                fingerprint = opened.fingerprint()
        except Exception:  # an unreadable raster: the Geo-SAM record stays
            pass
    model = meta.model.model_copy(update={"weights_sha256": _expected_sha256(meta.model.id)})
    metadata = FolderMetadata(
        model=model, preprocessing=pre.model_copy(update={"source_fingerprint": fingerprint}),
        dtype="float16", feature_shapes=meta.feature_shapes, grid_chip_count=meta.grid_chip_count,
        samscape_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    state = FolderState.empty(tmp, metadata, set(meta.skipped_chip_ids))
    chips = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
    for chip_id in sorted(source.records):
        features = source.load_chip(chip_id)
        chip = chips.chip(chip_id)
        state.write(chip, (chip.window.height, chip.window.width), features)
        step(1)
    state.flush()


def check_geosam_target(model_id: str, dst: Path, base_path: str | None, checkpoint: str | None
                        ) -> tuple[str, str]:
    """What `convert --to geosam` refuses of the destination `dst`, the model and the base path,
    checked before anything is written (or, for `encode --format geosam`, encoded). Returns (the
    checkpoint name to record, the absolute folder the chip files will be in)."""
    check_destination(dst)
    return _checkpoint(model_id, checkpoint), _feature_root(dst, base_path)


def _checkpoint(model_id: str, given: str | None) -> str:
    """The checkpoint file name to record for features of `model_id`; refuses models Geo-SAM's
    plugin does not list unless `given` names one (as `<model id>.pt`, or, for an imported model,
    a Geo-SAM checkpoint name of its family: `may_record`)."""
    if given is not None:
        name = given.replace("\\", "/").rsplit("/", 1)[-1]
        if not may_record(name, model_id):
            default = checkpoint_for_model(model_id) or f"{model_id}.pt"
            raise SettingsError(f"checkpoint {given!r} does not name model {model_id!r}; give "
                                f"--checkpoint {default}")
        return name
    known = checkpoint_for_model(model_id)
    if known is None:
        listed = ", ".join(n for n in GEOSAM_REGISTRY if model_for_checkpoint(n))
        raise FeatureFolderError(
            f"Geo-SAM does not know model {model_id!r} (its plugin lists {listed}), so it cannot open "
            f"this folder; encode with one of those models, or pass --checkpoint {model_id}.pt to "
            "write it anyway for geosam with a checkpoint of that name")
    return known


def check_geosam_geometry(metadata: FolderMetadata, subject: str) -> None:
    """Refuse features Geo-SAM would map wrongly: a SAM 2 chip samscape resized to a square
    that Geo-SAM would letterbox (chips smaller than the model's input, on a small raster).
    `subject` names the folder (or the encoding) in the message."""
    pre = metadata.preprocessing
    grid = pre.grid
    if pre.resize == "square" and (grid.width < pre.chip_size or grid.height < pre.chip_size):
        raise FeatureFolderError(
            f"{subject} holds SAM 2 chips of {min(grid.height, pre.chip_size)} x "
            f"{min(grid.width, pre.chip_size)} px that samscape stretched to a square, which Geo-SAM "
            "would letterbox: its prompts would land in the wrong place; encode a raster of at least "
            f"{pre.chip_size} px on each side, or keep the features in samscape's format")


def _feature_root(dst: Path, base_path: str | None) -> str:
    """Where the chip files will be, as an absolute path Geo-SAM reads verbatim."""
    if base_path is None:
        return str(dst.resolve() / FEATURES_DIR)
    windows = bool(re.match(r"^([A-Za-z]:[\\/]|\\\\)", base_path))
    if not (windows or base_path.startswith("/")):
        raise SettingsError(f"base path {base_path!r} is not valid: give the absolute path the "
                            "folder will have where Geo-SAM opens it")
    if windows:
        return str(PureWindowsPath(base_path) / FEATURES_DIR)
    return base_path.rstrip("/") + "/" + FEATURES_DIR


def _to_geosam(source: FeatureFolder, tmp: Path, checkpoint: str, root: str,
               step: Callable[[int], None]) -> None:
    """samscape → Geo-SAM v2: its chip dicts (float32) and its 12-column manifest."""
    meta = source.metadata
    pre = meta.preprocessing
    grid = pre.grid.to_grid()
    raster = find_raster(source.path, meta) if isinstance(source.path, Path) else None
    source_path = str(Path(raster).resolve()) if raster is not None else pre.source_name
    crs_text = pyproj.CRS.from_wkt(pre.grid.crs).to_string()
    rows = []
    for chip_id in sorted(source.records):
        record = source.records[chip_id]
        features = source.load_chip(chip_id)
        file_name = f"chip_{chip_id:06d}.pt"
        shape = (record.height, record.width)
        write_geosam_chip(tmp / FEATURES_DIR / file_name, meta.model.family, checkpoint, shape,
                          (pre.chip_size, pre.chip_size), features)
        rows.append(GeosamRow(chip_id, file_name, record.transform, shape, source_path, checkpoint,
                              meta.model.family, crs_text, (pre.chip_size, pre.chip_size)))
        step(1)
    write_geosam_manifest(tmp, rows, root, grid.crs.to_wkt(), meta.model_dump_json())
