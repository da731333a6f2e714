"""A feature folder as a source: the manifest is read on opening, chips when a prompt needs them."""

from __future__ import annotations

import os

from ..errors import (
    FeatureFolderError,
    MissingModelError,
    ModelNotAvailableError,
    SettingsError,
    UnknownModelError,
)
from ..features import FeatureFolder, FolderMetadata, open_folder
from ..features.geosam import LETTERBOX, GeosamFolder, LetterboxMapping
from ..geo import ChipGrid
from ..models import SamBackend, load_backend
from .base import DEFAULT_MEMORY_MB, Features, FeatureSource


class EncodedSource(FeatureSource):
    """A feature folder: the manifest is read on opening, chips when a prompt needs them."""

    mode = "pre-encoded"

    def __init__(self, folder: FeatureFolder, backend: SamBackend,
                 memory_mb: float = DEFAULT_MEMORY_MB) -> None:
        pre = folder.metadata.preprocessing
        chips = ChipGrid(pre.grid.to_grid(), pre.chip_size, pre.stride)
        super().__init__(chips, backend, pre.source_name, memory_mb)
        self.folder = folder
        if pre.resize == LETTERBOX:
            self.mapping = LetterboxMapping(folder.metadata.model.input_size)

    @classmethod
    def open(cls, path: str | os.PathLike, model: str | None = None, device: str = "auto",
             memory_mb: float = DEFAULT_MEMORY_MB) -> EncodedSource:
        """Open a feature folder (samscape's, or Geo-SAM v2's) with the model recorded in its
        manifest (`model`, if given, must be that one; a Geo-SAM folder takes any model of its
        family and input size, see `GeosamFolder.open`)."""
        folder = open_folder(path, model)
        record = folder.metadata.model
        if model is not None and model != record.id:
            raise SettingsError(
                f"'{path}' was encoded with model {record.id!r}, not {model!r}; "
                f"drop --model or pass --model {record.id}"
            )
        try:
            backend = load_backend(record.id, device)
        except UnknownModelError:
            raise MissingModelError(
                f"'{path}' was encoded with model {record.id!r}, which is not on this machine; "
                f"import its weights with 'samscape models import FOLDER --id {record.id}'", record.id
            ) from None
        except ModelNotAvailableError as exc:
            raise MissingModelError(str(exc), record.id) from None
        if isinstance(folder, GeosamFolder):  # named by checkpoint only: these are its weights
            folder.metadata = folder.metadata.model_copy(
                update={"model": record.model_copy(update={"weights_sha256": backend.info.weights_sha256})})
        elif backend.info.weights_sha256 != record.weights_sha256:
            raise FeatureFolderError(
                f"the weights of model {record.id!r} on this machine are not the ones '{path}' was "
                f"encoded with (sha256 {record.weights_sha256[:12]}…); "
                f"run 'samscape models download {record.id}' or encode again"
            )
        mismatch = folder.model_mismatch(backend.spec.input_size, backend.feature_shapes())
        if mismatch is not None:
            raise FeatureFolderError(mismatch)
        return cls(folder, backend, memory_mb)

    @property
    def metadata(self) -> FolderMetadata:
        return self.folder.metadata

    def has_chip(self, chip_id: int) -> bool:
        return chip_id in self.folder.records

    def encoded_ids(self) -> set[int]:
        return set(self.folder.records)

    def load(self, chip_id: int) -> Features | None:
        if chip_id not in self.folder.records:
            return None
        return self.folder.load_chip(chip_id)
