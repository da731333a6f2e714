"""samscape: Segment Anything on large georeferenced rasters."""

__version__ = "0.1.0"
