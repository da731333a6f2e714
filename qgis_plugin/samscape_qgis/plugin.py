"""The plugin object QGIS holds (a placeholder until the dock arrives)."""


class SamscapePlugin:
    def __init__(self, iface) -> None:
        self.iface = iface

    def initGui(self) -> None:  # noqa: N802 (QGIS's name)
        pass

    def unload(self) -> None:
        pass
