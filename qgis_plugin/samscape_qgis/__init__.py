"""samscape for QGIS: the Segment Anything workflow in QGIS, with the model in a separate
samscape engine process (no torch in QGIS's Python)."""

from __future__ import annotations


def classFactory(iface):  # noqa: N802 - the name QGIS looks for
    """The plugin object QGIS loads."""
    from .plugin import SamscapePlugin

    return SamscapePlugin(iface)
