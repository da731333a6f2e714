"""Masks → polygons, and the GIS layers they are saved in (`layers` loads on first use: pyogrio)."""

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes
from .polygons import VECTORIZE_MODES, VectorOptions, area_m2, mask_to_polygons, reproject

if TYPE_CHECKING:
    from .layers import DRIVERS, FIELDS, OutputLayer, SavedPolygon, driver_for, split_layer

_LAZY = {name: "layers" for name in ("DRIVERS", "FIELDS", "OutputLayer", "SavedPolygon", "driver_for",
                                     "split_layer")}

__all__ = ["DRIVERS", "FIELDS", "VECTORIZE_MODES", "OutputLayer", "SavedPolygon", "VectorOptions",
           "area_m2", "driver_for", "mask_to_polygons", "reproject", "split_layer"]

__getattr__ = lazy_attributes(__name__, _LAZY)
