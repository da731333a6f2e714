"""Masks → polygons, and the GIS layers they are saved in."""

from .layers import DRIVERS, FIELDS, OutputLayer, SavedPolygon, driver_for
from .polygons import VECTORIZE_MODES, VectorOptions, mask_to_polygons, reproject

__all__ = ["DRIVERS", "FIELDS", "VECTORIZE_MODES", "OutputLayer", "SavedPolygon", "VectorOptions",
           "driver_for", "mask_to_polygons", "reproject"]
