"""The Processing provider "samscape": Encode raster and Segment from prompts layer, for the
Processing toolbox, the graphical modeler and `qgis_process`. Each algorithm runs the samscape
command (the engine command of the plugin's settings) as a subprocess: no dock or running engine
is needed, and nothing of torch loads into QGIS."""

from __future__ import annotations

from .provider import SamscapeProvider

__all__ = ["SamscapeProvider"]
