"""The Segmentation dock's preferences: its Styles (how prompts, results and the chip boundary are
drawn) and Options (Enable, Max Polygon Only, vectorisation, Preview, Show Boundary). This is the
one module that reads and writes them. They live beside the engine settings (`settings.py`), in the
QGIS profile's settings file, one key per field of `Style` and `Options` under `samscape/dock/style`
and `samscape/dock/options` (`samscape/dock/style/point_size=12`, `samscape/dock/options/vectorize=pixel`,
...). A value that is missing or not valid is read as its default.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from qgis.core import QgsSettings
from qgis.PyQt.QtGui import QColor

GROUP = "samscape/dock"
SUBGROUPS = {"Style": "style", "Options": "options"}
ICONS = ("circle", "square", "diamond", "cross", "x")  # the point icons, as QgsRubberBand draws them
VECTORIZE = ("pixel", "simplified")  # the engine's vectorisation modes
POINT_SIZES = (4, 40)  # the smallest and largest point icon, in pixels
COLORS = ("fg", "bg", "box", "result", "preview", "boundary")


@dataclass(frozen=True)
class Style:
    """How the dock draws on the canvas: the point icon and its size (pixels), and a colour
    ('#rrggbb') for foreground and background points, the box, the result, the preview and the
    chip boundary."""

    point_size: int = 12
    point_icon: str = "circle"
    fg: str = "#2e7d32"
    bg: str = "#c62828"
    box: str = "#ff8f00"
    result: str = "#1565c0"
    preview: str = "#00b8d4"
    boundary: str = "#d500f9"

    def __post_init__(self) -> None:
        if isinstance(self.point_size, bool) or not isinstance(self.point_size, int) or not (
                POINT_SIZES[0] <= self.point_size <= POINT_SIZES[1]):
            raise ValueError(f"point size must be {POINT_SIZES[0]}–{POINT_SIZES[1]} pixels, "
                             f"got {self.point_size!r}")
        if self.point_icon not in ICONS:
            raise ValueError(f"point icon {self.point_icon!r} is not one of: {', '.join(ICONS)}")
        for name in COLORS:
            value = getattr(self, name)
            if not (isinstance(value, str) and value.startswith("#") and QColor(value).isValid()):
                raise ValueError(f"{name} colour must be '#rrggbb', got {value!r}")


@dataclass(frozen=True)
class Options:
    """How the dock segments. `enabled` off: the samscape map tools are put down (the map is
    navigated freely) and its keys are QGIS's; `max_polygon_only`: keep the largest polygon of a
    result; `vectorize`: 'pixel' (edges follow the pixels) or 'simplified'; `preview`: the mask
    follows the mouse; `show_boundary`: draw the chip footprints."""

    enabled: bool = True
    max_polygon_only: bool = False
    vectorize: str = "pixel"
    preview: bool = True
    show_boundary: bool = False

    def __post_init__(self) -> None:
        if self.vectorize not in VECTORIZE:
            raise ValueError(f"vectorisation {self.vectorize!r} is not one of: {', '.join(VECTORIZE)}")
        for name in ("enabled", "max_polygon_only", "preview", "show_boundary"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")


DEFAULT_STYLE = Style()
DEFAULT_OPTIONS = Options()


def _key(kind: type, name: str) -> str:
    return f"{GROUP}/{SUBGROUPS[kind.__name__]}/{name}"


def _read(settings: QgsSettings, key: str, default: object) -> object:
    """The value stored at `key` as the type of `default` (None where it cannot be)."""
    value = settings.value(key, None, section=QgsSettings.Section.NoSection)
    if value is None:
        return default
    text = str(value).strip()
    if isinstance(default, bool):
        return {"true": True, "false": False}.get(text.lower())
    if isinstance(default, int):
        return int(text) if text.lstrip("-").isdigit() else None
    return text


def _load(kind: type) -> object:
    """A `kind` (Style or Options) from the settings, field by field: a field whose stored value
    is missing or not valid keeps its default."""
    settings = QgsSettings()
    value = kind()
    for field in fields(kind):
        stored = _read(settings, _key(kind, field.name), getattr(value, field.name))
        try:
            value = replace(value, **{field.name: stored})
        except (TypeError, ValueError):
            continue
    return value


def _save(value: object) -> None:
    settings = QgsSettings()
    for field in fields(value):
        settings.setValue(_key(type(value), field.name), getattr(value, field.name),
                          section=QgsSettings.Section.NoSection)


def load_style() -> Style:
    return _load(Style)


def load_options() -> Options:
    return _load(Options)


def save_style(style: Style) -> None:
    _save(style)


def save_options(options: Options) -> None:
    _save(options)
