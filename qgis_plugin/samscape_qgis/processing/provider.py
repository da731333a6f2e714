"""The "samscape" Processing provider: its algorithms and the output formats samscape writes."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .encode_raster import EncodeRasterAlgorithm
from .segment_prompts import SegmentPromptsAlgorithm

ICON = Path(__file__).resolve().parents[1] / "icon.png"
# The formats `samscape segment --out` writes (GeoPackage first: the default).
VECTOR_EXTENSIONS = ["gpkg", "shp", "geojson", "fgb", "parquet"]


class SamscapeProvider(QgsProcessingProvider):
    """Algorithms `samscape:encode` and `samscape:segment`."""

    def id(self) -> str:
        return "samscape"

    def name(self) -> str:
        return "samscape"

    def longName(self) -> str:  # noqa: N802 - QGIS's names
        return "samscape: Segment Anything on rasters"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def loadAlgorithms(self) -> None:  # noqa: N802
        self.addAlgorithm(EncodeRasterAlgorithm())
        self.addAlgorithm(SegmentPromptsAlgorithm())

    def supportedOutputVectorLayerExtensions(self) -> list[str]:  # noqa: N802
        return list(VECTOR_EXTENSIONS)

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:  # noqa: N802, N803
        return "gpkg"
