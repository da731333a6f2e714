"""Every error a user can cause. Messages name the problem, the values, and the fix, on one line."""

from __future__ import annotations

import re


class SamscapeError(Exception):
    """Root of all samscape errors: the CLI prints the message and exits non-zero."""

    exit_code = 1


class SettingsError(SamscapeError, ValueError):
    """A setting (flag, settings file key, API argument) has a value that cannot be used."""


class RasterReadError(SamscapeError, OSError):
    """A raster cannot be opened or read."""


class MissingCRSError(SamscapeError, ValueError):
    """A raster has no coordinate reference system and none was given."""


class BandError(SamscapeError, IndexError):
    """A band index is outside the raster's bands, or too many bands were chosen."""


class ExtentError(SamscapeError, ValueError):
    """A processing extent is malformed or does not intersect the raster."""


class EmptyRasterError(SamscapeError, ValueError):
    """Every pixel in the processing extent is nodata."""


class UnknownModelError(SamscapeError, KeyError):
    """A model id is not in the catalogue nor imported."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ModelNotAvailableError(SamscapeError, OSError):
    """A catalogue model is not on this machine and cannot be downloaded."""


class MissingModelError(ModelNotAvailableError):
    """A feature folder's model is not on this machine; `model_id` names it, so that a client can
    offer to download or import it."""

    def __init__(self, message: str, model_id: str | None = None) -> None:
        super().__init__(message)
        self.model_id = model_id


class ModelImportError(SamscapeError, ValueError):
    """A local folder cannot be imported as a model."""


class ModelStoreError(SamscapeError, OSError):
    """A model in the local store is damaged: its provenance record or weights cannot be read."""


class FolderConflictError(SamscapeError, FileExistsError):
    """An output folder already holds something else; nothing is overwritten without --overwrite."""


class FeatureFolderError(SamscapeError, ValueError):
    """A folder is not a samscape feature folder, or one of its chips is missing or corrupt."""


class DeviceError(SamscapeError, RuntimeError):
    """The requested compute device is not available."""


class ClusterError(SamscapeError, RuntimeError):
    """A Dask cluster cannot be used: dask is not installed, its scheduler cannot be reached, or
    its workers cannot encode (another model, another raster) or keep dying."""


class DecoderLayoutError(SamscapeError, TypeError):
    """A model's mask decoder is not arranged as samscape's cached decoder path expects."""


class AttentionLayoutError(SamscapeError, TypeError):
    """A model's image-encoder attention is not arranged as samscape's fused attention expects."""


class PromptError(SamscapeError, ValueError):
    """A prompt is malformed, or lies outside the source."""


class OutputLayerError(SamscapeError, ValueError):
    """An output layer has an unknown format, or another schema or CRS than samscape writes."""


class NothingToSaveError(SamscapeError, ValueError):
    """A save or undo was asked for with nothing to save or undo."""


class PathNotAllowedError(SamscapeError, PermissionError):
    """A path given to the server lies outside its allowed roots."""


class PathNotFoundError(SamscapeError, FileNotFoundError):
    """A path given to the server does not exist, or is not the kind of thing asked for."""


class NotFoundError(SamscapeError, LookupError):
    """An id given to the server (source, session, job) or a map tile names nothing it holds."""


class HostNotAllowedError(SamscapeError, PermissionError):
    """A request names a Host the server does not serve (DNS rebinding)."""


class OriginNotAllowedError(SamscapeError, PermissionError):
    """A state-changing request comes from a web page of another origin."""


class BodyTooLargeError(SamscapeError, ValueError):
    """A request body is over the server's limit."""


class FolderWriteError(SamscapeError, OSError):
    """An output folder or file cannot be written (read-only, no permission, disk full)."""


class UnsupportedRasterError(SamscapeError, ValueError):
    """A raster's georeferencing is not one samscape processes (rotated or sheared)."""


class AddressInUseError(SamscapeError, OSError):
    """The server's address cannot be bound (the port is taken, or not this machine's)."""


class PluginInstallError(SamscapeError, OSError):
    """The QGIS plugin cannot be installed or packaged (a foreign folder in the way, bad metadata)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, where a command stops on it as on Ctrl+C (the CLI exits 143 instead of 130)."""


_GDAL_HINT = re.compile(r";? *It might help to specify the correct driver.*$")


def reason(exc: BaseException, limit: int = 300) -> str:
    """The first line of `exc`'s message (its type's name where it has none), without GDAL's hint
    about driver prefixes, cut to `limit` characters: the "why" of a one-line message."""
    lines = str(exc).strip().splitlines()
    text = _GDAL_HINT.sub("", lines[0]).rstrip(" ;") if lines else ""
    return (text or type(exc).__name__)[:limit]
