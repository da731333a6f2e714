"""Encode raster: `samscape encode` as a Processing algorithm, every setting a parameter.

A parameter left empty is not passed, so the settings file (the Copilot's export) or the engine's
default applies; a parameter given wins over the settings file, as a flag does on the command
line. Progress comes from `samscape encode --progress-json`.
"""

from __future__ import annotations

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .command import json_object, run_samscape
from .compat import DOUBLE, FILE, INTEGER, advanced


def crs_text(crs: QgsCoordinateReferenceSystem) -> str:
    """`crs` as samscape reads it: its authority id (EPSG:32633), else its WKT."""
    return crs.authid() or crs.toWkt()


class EncodeRasterAlgorithm(QgsProcessingAlgorithm):
    """A raster layer (any GDAL source) → a feature folder, resumable."""

    INPUT, OUTPUT, MODEL, BANDS = "INPUT", "OUTPUT", "MODEL", "BANDS"
    RANGE, PERCENTILES, CRS, RESOLUTION, EXTENT = "RANGE", "PERCENTILES", "CRS", "RESOLUTION", "EXTENT"
    STRIDE, BATCH_SIZE, DEVICE, DTYPE = "STRIDE", "BATCH_SIZE", "DEVICE", "DTYPE"
    MIXED_PRECISION, SETTINGS, OVERWRITE = "MIXED_PRECISION", "SETTINGS", "OVERWRITE"
    ENCODED, ALREADY_DONE, GRID_CHIP_COUNT = "ENCODED", "ALREADY_DONE", "GRID_CHIP_COUNT"

    DEVICES = ["auto", "cpu", "cuda", "mps"]
    DTYPES = ["float16", "float32"]
    ON_OFF = ["on", "off"]

    def name(self) -> str:
        return "encode"

    def displayName(self) -> str:  # noqa: N802 - QGIS's names
        return "Encode raster"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Encodes a raster layer (any GDAL source) into a samscape feature folder, which the "
                "samscape dock (Pre-encoded) and Segment from prompts layer read. Runs the samscape "
                "command of the plugin's settings. Empty parameters take the settings file's value "
                "(the Encoder Copilot's export), else samscape's default; given ones win. Canceled "
                "or interrupted, the folder keeps its chips: run again with the same settings to "
                "resume.")

    def createInstance(self) -> EncodeRasterAlgorithm:  # noqa: N802
        return EncodeRasterAlgorithm()

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802
        add = self.addParameter
        add(QgsProcessingParameterRasterLayer(self.INPUT, "Raster layer"))
        add(QgsProcessingParameterString(
            self.MODEL, "Model id, as samscape models list shows (empty: the settings file's, else "
                        "samscape's default)", optional=True))
        add(QgsProcessingParameterBand(self.BANDS, "Bands (1 to 3; empty: 1,2,3)", None, self.INPUT,
                                       optional=True, allowMultiple=True))
        add(QgsProcessingParameterString(
            self.RANGE, "Value range MIN,MAX mapped to 0..255 (empty: from the percentiles)", optional=True))
        add(QgsProcessingParameterFile(
            self.SETTINGS, "Settings file (JSON, the Encoder Copilot's export)", FILE, "json",
            optional=True, fileFilter="Settings files (*.json)"))
        add(QgsProcessingParameterBoolean(
            self.OVERWRITE, "Overwrite a folder holding another encoding", defaultValue=False))
        add(advanced(QgsProcessingParameterString(
            self.PERCENTILES, "Percentiles LOW,HIGH giving the value range (empty: 2,98)", optional=True)))
        add(advanced(QgsProcessingParameterCrs(self.CRS, "Target CRS (empty: the raster's)", optional=True)))
        add(advanced(QgsProcessingParameterNumber(
            self.RESOLUTION, "Target resolution in map units of the target CRS (empty: the raster's)",
            DOUBLE, optional=True, minValue=0.0)))
        add(advanced(QgsProcessingParameterExtent(
            self.EXTENT, "Processing extent (empty: the whole raster)", optional=True)))
        add(advanced(QgsProcessingParameterNumber(
            self.STRIDE, "Stride: pixels between chip starts (empty: half a chip)", INTEGER,
            optional=True, minValue=1)))
        add(advanced(QgsProcessingParameterNumber(
            self.BATCH_SIZE, "Batch size: chips encoded together (empty: auto)", INTEGER, optional=True,
            minValue=1)))
        add(advanced(QgsProcessingParameterEnum(
            self.DEVICE, "Device (empty: auto)", self.DEVICES, optional=True, usesStaticStrings=True)))
        add(advanced(QgsProcessingParameterEnum(
            self.DTYPE, "Storage precision of the features (empty: float16)", self.DTYPES, optional=True,
            usesStaticStrings=True)))
        add(advanced(QgsProcessingParameterEnum(
            self.MIXED_PRECISION, "Mixed precision (empty: on)", self.ON_OFF, optional=True,
            usesStaticStrings=True)))
        add(QgsProcessingParameterFolderDestination(self.OUTPUT, "Feature folder"))
        self.addOutput(QgsProcessingOutputNumber(self.ENCODED, "Chips encoded by this run"))
        self.addOutput(QgsProcessingOutputNumber(self.ALREADY_DONE, "Chips found already encoded"))
        self.addOutput(QgsProcessingOutputNumber(self.GRID_CHIP_COUNT, "Chips in the grid"))

    def processAlgorithm(self, parameters: dict, context, feedback) -> dict:  # noqa: N802
        layer = self.parameterAsRasterLayer(parameters, self.INPUT, context)
        if layer is None:
            raise QgsProcessingException(f"no raster layer for {parameters.get(self.INPUT)!r}; choose a "
                                         f"raster layer or a raster file GDAL can open")
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"layer '{layer.name()}' is not read through GDAL ({layer.providerType()}); export it "
                f"to a GeoTIFF (Raster ‣ Conversion ‣ Translate, or Export ‣ Save As) and encode that")
        folder = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        arguments = ["encode", layer.source(), folder, *self._flags(parameters, context), "--progress-json"]

        def progress(line: str) -> None:
            item = json_object(line)
            if item is not None and item.keys() == {"done", "total"} and item["total"]:
                feedback.setProgress(100.0 * item["done"] / item["total"])

        note = (f"the feature folder '{folder}' keeps the chips encoded so far; run Encode raster again "
                f"with the same settings to resume")
        lines = run_samscape(arguments, feedback, progress, note)
        result = json_object(lines[-1]) if lines else None
        if result is None or "folder" not in result:
            last = lines[-1][:200] if lines else "none"
            raise QgsProcessingException(f"samscape encode printed no result (last line: {last}); run: "
                                         f"pip install -U samscape")
        feedback.pushInfo(f"{folder}: encoded {result['encoded']} chip(s), {result['already_done']} "
                          f"already done, {result['nodata']} all nodata, of {result['grid_chip_count']} "
                          f"in the grid ({result['seconds']:.1f} s)")
        return {self.OUTPUT: folder, self.ENCODED: result["encoded"],
                self.ALREADY_DONE: result["already_done"], self.GRID_CHIP_COUNT: result["grid_chip_count"]}

    def _flags(self, parameters: dict, context) -> list[str]:
        """`samscape encode` flags for the parameters given (none for those left empty)."""
        flags: list[str] = []

        def given(name: str) -> bool:
            return parameters.get(name) not in (None, "")

        for name, flag in ((self.MODEL, "--model"), (self.RANGE, "--range"),
                           (self.PERCENTILES, "--percentiles")):
            text = self.parameterAsString(parameters, name, context).strip()
            if text:
                flags += [flag, text]
        bands = self.parameterAsInts(parameters, self.BANDS, context) if given(self.BANDS) else []
        if bands:
            flags += ["--bands", ",".join(map(str, bands))]
        crs = self.parameterAsCrs(parameters, self.CRS, context)
        if given(self.CRS) and crs.isValid():
            flags += ["--crs", crs_text(crs)]
        if given(self.RESOLUTION):
            flags += ["--resolution", f"{self.parameterAsDouble(parameters, self.RESOLUTION, context):.15g}"]
        for name, flag in ((self.STRIDE, "--stride"), (self.BATCH_SIZE, "--batch-size")):
            if given(name):
                flags += [flag, str(self.parameterAsInt(parameters, name, context))]
        if given(self.EXTENT):
            extent = self.parameterAsExtent(parameters, self.EXTENT, context)
            extent_crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
            if not extent.isNull():
                text = ",".join(f"{v:.15g}" for v in (extent.xMinimum(), extent.yMinimum(),
                                                       extent.xMaximum(), extent.yMaximum()))
                flags += ["--extent", f"{text}@{crs_text(extent_crs)}" if extent_crs.isValid() else text]
        for name, flag in ((self.DEVICE, "--device"), (self.DTYPE, "--dtype")):
            value = self.parameterAsEnumString(parameters, name, context) if given(name) else ""
            if value:
                flags += [flag, value]
        mixed = self.parameterAsEnumString(parameters, self.MIXED_PRECISION, context) \
            if given(self.MIXED_PRECISION) else ""
        if mixed:
            flags.append("--mixed-precision" if mixed == "on" else "--no-mixed-precision")
        settings_file = self.parameterAsFile(parameters, self.SETTINGS, context)
        if settings_file:
            flags += ["--settings", settings_file]
        if self.parameterAsBoolean(parameters, self.OVERWRITE, context):
            flags.append("--overwrite")
        return flags
