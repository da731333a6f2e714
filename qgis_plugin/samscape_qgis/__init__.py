"""samscape for QGIS: the plugin's entry point (QGIS calls `classFactory`)."""


def classFactory(iface):  # noqa: N802 (the name QGIS looks up)
    from .plugin import SamscapePlugin

    return SamscapePlugin(iface)
