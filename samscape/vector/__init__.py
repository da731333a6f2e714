"""Masks → polygons, and the GIS layers they are saved in."""

from .layers import DRIVERS, FIELDS, OutputLayer, SavedPolygon, driver_for, split_layer
from .polygons import VECTORIZE_MODES, VectorOptions, area_m2, mask_to_polygons, reproject

__all__ = ["DRIVERS", "FIELDS", "VECTORIZE_MODES", "OutputLayer", "SavedPolygon", "VectorOptions",
           "area_m2", "driver_for", "mask_to_polygons", "reproject", "split_layer"]
