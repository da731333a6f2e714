"""Segment from prompts layer: `samscape segment FOLDER --prompts FILE` as a Processing algorithm.

The prompts (any point or polygon layer QGIS reads, in any CRS) are written to a temporary
GeoPackage with the two fields `samscape segment --prompts` reads: `label` (1 foreground, the
default; 0 background) and `group` (features of one group make one object), matched without
regard to case. Each point is a prompt, each polygon's bounds a box.
"""

from __future__ import annotations

import os
import re

from qgis.core import (
    QgsFeature,
    QgsFields,
    QgsGeometry,
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
    QgsVectorFileWriter,
    QgsWkbTypes,
)

from .command import run_samscape
from .compat import (
    DOUBLE,
    FOLDER,
    INTEGER,
    NO_ERROR,
    POINT_GEOMETRY,
    POLYGON_GEOMETRY,
    VECTOR_POINT,
    VECTOR_POLYGON,
    WKB_MULTIPOLYGON,
    WKB_POINT,
    advanced,
)

PROMPT_FIELDS = ("label", "group")
# "Save to GeoPackage…" in the output widget gives an OGR layer URI instead of a file path.
OGR_URI = re.compile(r"""^ogr:dbname='(?P<file>(?:[^']|'')+)'\s+table="(?P<table>(?:[^"]|"")+)".*$""")


def engine_output(destination: str) -> str:
    """The output as `samscape segment --out` takes it: a path, or FILE.gpkg:LAYER for a layer
    of a GeoPackage given as an OGR URI."""
    match = OGR_URI.match(destination)
    if match is None:
        return destination
    file, table = match["file"].replace("''", "'"), match["table"].replace('""', '"')
    return f"{file}:{table}"


class SegmentPromptsAlgorithm(QgsProcessingAlgorithm):
    """A prompts layer + a feature folder → a polygon layer, one group of polygons per object."""

    PROMPTS, FEATURES, OUTPUT = "PROMPTS", "FEATURES", "OUTPUT"
    VECTORIZE, TOLERANCE, MAX_POLYGON_ONLY = "VECTORIZE", "TOLERANCE", "MAX_POLYGON_ONLY"
    MIN_AREA, MIN_PIXELS, FILL_HOLES, MAX_CHIPS, DEVICE = (
        "MIN_AREA", "MIN_PIXELS", "FILL_HOLES", "MAX_CHIPS", "DEVICE")

    VECTORIZATIONS = ["pixel", "simplified"]
    DEVICES = ["auto", "cpu", "cuda", "mps"]

    def name(self) -> str:
        return "segment"

    def displayName(self) -> str:  # noqa: N802 - QGIS's names
        return "Segment from prompts layer"

    def shortHelpString(self) -> str:  # noqa: N802
        return ("Segments one object per prompt feature (or per value of a 'group' field) in a samscape "
                "feature folder (see Encode raster) and saves the polygons. Points are prompts "
                "('label' field: 1 foreground, the default; 0 background); a polygon's bounds are a "
                "box. The prompts layer may be in any CRS. An existing output file is replaced; a "
                "GeoPackage layer chosen with Save to GeoPackage is appended to.")

    def createInstance(self) -> SegmentPromptsAlgorithm:  # noqa: N802
        return SegmentPromptsAlgorithm()

    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802
        add = self.addParameter
        add(QgsProcessingParameterFeatureSource(
            self.PROMPTS, "Prompts layer (points, polygons)", [VECTOR_POINT, VECTOR_POLYGON]))
        add(QgsProcessingParameterFile(self.FEATURES, "Feature folder", FOLDER))
        add(QgsProcessingParameterEnum(self.VECTORIZE, "Polygon edges", self.VECTORIZATIONS,
                                       defaultValue="pixel", usesStaticStrings=True))
        add(QgsProcessingParameterBoolean(self.MAX_POLYGON_ONLY, "Keep only the largest polygon of each "
                                          "object", defaultValue=False))
        add(advanced(QgsProcessingParameterNumber(
            self.TOLERANCE, "Simplification tolerance (pixels)", DOUBLE, 1.0, minValue=0.0)))
        add(advanced(QgsProcessingParameterNumber(
            self.MIN_AREA, "Drop polygons smaller than (map units²)", DOUBLE, 0.0, minValue=0.0)))
        add(advanced(QgsProcessingParameterNumber(
            self.MIN_PIXELS, "Drop specks smaller than (pixels)", DOUBLE, 4.0, minValue=0.0)))
        add(advanced(QgsProcessingParameterNumber(
            self.FILL_HOLES, "Fill holes smaller than (map units²)", DOUBLE, 0.0, minValue=0.0)))
        add(advanced(QgsProcessingParameterNumber(
            self.MAX_CHIPS, "Chips one object may span (empty: samscape's default)", INTEGER,
            optional=True, minValue=1)))
        add(advanced(QgsProcessingParameterEnum(
            self.DEVICE, "Device (empty: auto)", self.DEVICES, optional=True, usesStaticStrings=True)))
        add(QgsProcessingParameterVectorDestination(self.OUTPUT, "Polygons", VECTOR_POLYGON))

    def processAlgorithm(self, parameters: dict, context, feedback) -> dict:  # noqa: N802
        source = self.parameterAsSource(parameters, self.PROMPTS, context)
        if source is None:
            raise QgsProcessingException(f"no prompts layer for {parameters.get(self.PROMPTS)!r}; choose "
                                         f"a point or polygon layer")
        folder = self.parameterAsFile(parameters, self.FEATURES, context)
        destination = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        out = engine_output(destination)
        if out == destination and os.path.isfile(out):
            _remove_file_layer(out)
        prompts = QgsProcessingUtils.generateTempFilename("samscape_prompts.gpkg")
        try:
            count = write_prompts(source, prompts, context, feedback)
            feedback.pushInfo(f"{count} prompt feature(s) from '{source.sourceName()}'")
            lines = run_samscape(["segment", folder, "--prompts", prompts, "--out", out, "--quiet",
                                  *self._flags(parameters, context)], feedback)
        finally:
            if os.path.exists(prompts):
                os.remove(prompts)
        for line in lines:
            feedback.pushInfo(line)
        return {self.OUTPUT: destination}

    def _flags(self, parameters: dict, context) -> list[str]:
        flags = ["--vectorize", self.parameterAsEnumString(parameters, self.VECTORIZE, context) or "pixel"]
        for name, flag in ((self.TOLERANCE, "--tolerance"), (self.MIN_AREA, "--min-area"),
                           (self.MIN_PIXELS, "--min-pixels"), (self.FILL_HOLES, "--fill-holes")):
            flags += [flag, f"{self.parameterAsDouble(parameters, name, context):.15g}"]
        if parameters.get(self.MAX_CHIPS) not in (None, ""):
            flags += ["--max-chips", str(self.parameterAsInt(parameters, self.MAX_CHIPS, context))]
        device = self.parameterAsEnumString(parameters, self.DEVICE, context) \
            if parameters.get(self.DEVICE) not in (None, "") else ""
        if device:
            flags += ["--device", device]
        if self.parameterAsBoolean(parameters, self.MAX_POLYGON_ONLY, context):
            flags.append("--max-polygon-only")
        return flags


def write_prompts(source, path: str, context, feedback) -> int:
    """Write `source`'s features to the GeoPackage `path` as samscape reads prompts: Points or
    MultiPolygons (2D), in the source's CRS, with its label and group fields; the count written.
    A multipoint of several points cannot say which object it is, so it is refused."""
    crs = source.sourceCrs()
    if not crs.isValid():
        raise QgsProcessingException(f"the prompts layer '{source.sourceName()}' has no CRS; set it "
                                     f"(Layer Properties ‣ Source) and run again")
    kind = QgsWkbTypes.geometryType(source.wkbType())
    if kind not in (POINT_GEOMETRY, POLYGON_GEOMETRY):
        raise QgsProcessingException(f"the prompts layer '{source.sourceName()}' is neither points nor "
                                     f"polygons; prompts are points and boxes (polygons)")
    wkb_type = WKB_POINT if kind == POINT_GEOMETRY else WKB_MULTIPOLYGON
    fields, indices = QgsFields(), []
    source_fields = source.fields()
    for wanted in PROMPT_FIELDS:
        index = next((i for i, f in enumerate(source_fields) if f.name().lower() == wanted), None)
        if index is not None:
            field = source_fields.at(index)
            field.setName(wanted)
            fields.append(field)
            indices.append(index)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName, options.layerName = "GPKG", "prompts"
    writer = QgsVectorFileWriter.create(path, fields, wkb_type, crs, context.transformContext(), options)
    if writer.hasError() != NO_ERROR:
        raise QgsProcessingException(f"cannot write the prompts to '{path}': {writer.errorMessage()}; "
                                     f"check the free space of QGIS's temporary folder")
    count = 0
    try:
        for feature in source.getFeatures():
            if feedback.isCanceled():
                raise QgsProcessingException("canceled")
            out = QgsFeature(fields)
            out.setAttributes([feature.attribute(i) for i in indices])
            out.setGeometry(_prompt_geometry(feature, kind, count + 1))
            if not writer.addFeature(out):
                raise QgsProcessingException(f"cannot write prompt feature {count + 1} to '{path}': "
                                             f"{writer.errorMessage()}")
            count += 1
    finally:
        del writer  # closes the file
    return count


def _prompt_geometry(feature: QgsFeature, kind, number: int) -> QgsGeometry:
    """The feature's geometry in 2D as a Point or a MultiPolygon (an empty one for none, which
    samscape reports by feature number)."""
    geometry = QgsGeometry(feature.geometry())
    if geometry.isNull() or geometry.isEmpty():
        return QgsGeometry()
    geometry.get().dropZValue()
    geometry.get().dropMValue()
    if kind == POINT_GEOMETRY:
        if geometry.isMultipart():
            points = geometry.asMultiPoint()
            if len(points) != 1:
                raise QgsProcessingException(
                    f"prompt feature {number} (id {feature.id()}) is a multipoint of {len(points)} points; "
                    f"split it (Vector ‣ Geometry Tools ‣ Multipart to Singleparts) and give its points "
                    f"one 'group' value to make them one object")
            return QgsGeometry.fromPointXY(points[0])
        return geometry
    geometry.convertToMultiType()
    return geometry


def _remove_file_layer(path: str) -> None:
    """Delete an existing output file (a Shapefile with its parts), as Processing replaces outputs."""
    if path.lower().endswith(".shp"):
        QgsVectorFileWriter.deleteShapeFile(path)
    else:
        os.remove(path)
