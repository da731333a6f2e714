"""The Styles and Options tabs of the dock, in real QGIS (offscreen) against the real engine and the
demo scene: colours, icon and size on the rubber bands as drawn, the preferences kept in QSettings
for the next dock, Max Polygon Only and the vectorisation re-tracing the current result on the
engine, Enable, and Reset. The preferences go to a settings file of this module's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Recorder
from qgis.core import QgsGeometry, QgsPointXY, QgsSettings
from qgis.gui import QgsMapToolPan, QgsRubberBand
from qgis.PyQt.QtCore import QCoreApplication, QEvent, Qt
from qgis.PyQt.QtGui import QColor
from test_dock import click, key, load, mouse, settle, shoot, to_canvas, truth_objects

from samscape_qgis import preferences
from samscape_qgis.dock import SamscapeDock
from samscape_qgis.preferences import DEFAULT_OPTIONS, DEFAULT_STYLE, Options, Style

STYLES_TAB, OPTIONS_TAB = 2, 3


@pytest.fixture(scope="module", autouse=True)
def own_settings():
    """QSettings in a file of this module's own while it runs (not the user's, not the other tests')."""
    organization = QCoreApplication.organizationName()
    QCoreApplication.setOrganizationName("samscape-test-styles-options")
    yield QgsSettings().fileName()
    QgsSettings().remove(preferences.GROUP)
    QCoreApplication.setOrganizationName(organization)


@pytest.fixture(autouse=True)
def fresh_preferences(own_settings: str) -> None:
    """Each test's dock starts from the default preferences."""
    assert QgsSettings().fileName() == own_settings and "samscape-test-styles-options" in own_settings
    QgsSettings().remove(preferences.GROUP)


def inside(shape: QgsGeometry) -> QgsPointXY:
    return shape.poleOfInaccessibility(0.1)[0].asPoint()


def near(a: QColor, b: QColor, tolerance: int = 40) -> bool:
    """Whether two colours differ by at most `tolerance` in each of red, green and blue."""
    return all(abs(x - y) <= tolerance for x, y in zip(a.getRgb()[:3], b.getRgb()[:3]))


def pixel_color(dock: SamscapeDock, point: QgsPointXY) -> QColor:
    """The colour the canvas shows at `point` (EPSG:32633), rubber bands included."""
    canvas = dock.segmentation.canvas
    canvas.viewport().repaint()
    image = canvas.viewport().grab().toImage()
    pixel = to_canvas(dock, point)
    ratio = image.devicePixelRatio()
    return image.pixelColor(round(pixel.x() * ratio), round(pixel.y() * ratio))


def polygons(dock: SamscapeDock) -> int:
    """How many polygons the session's current result has."""
    result = dock.segmentation.session.session["result"]
    return len(result["features"]) if result else 0


def vertices(dock: SamscapeDock) -> int:
    """How many vertices the result band has."""
    shape = dock.segmentation.bands.result.asGeometry()  # kept: constGet() points into it
    return shape.constGet().nCoordinates()


def prompted(dock: SamscapeDock, demo: dict) -> list[QgsGeometry]:
    """The demo folder loaded, its raster shown, and a foreground point on the largest building."""
    load(dock, demo["folder"])
    dock.source_panel.add_raster_button.click()
    dock.source_panel.zoom_button.click()
    buildings = truth_objects(demo, "building")
    click(dock, inside(buildings[0]))
    assert polygons(dock) >= 1
    return buildings


def test_styles_restyle_the_bands_and_survive_a_new_dock(dock: SamscapeDock, demo: dict, engine, iface,
                                                         screenshots: Path) -> None:
    panel, bands = dock.styles_panel, dock.segmentation.bands
    assert panel.style() == DEFAULT_STYLE and bands.style == DEFAULT_STYLE
    buildings = prompted(dock, demo)
    target = inside(buildings[0])
    assert near(pixel_color(dock, target), QColor(DEFAULT_STYLE.fg))

    changed = Recorder(panel.changed)
    panel.colors["fg"].setColor(QColor("#ffd600"))
    assert changed.calls == [(panel.style(),)] and bands.fg.fillColor() == QColor("#ffd600")
    assert near(pixel_color(dock, target), QColor("#ffd600"))
    panel.colors["result"].setColor(QColor("#e91e63"))
    assert bands.result.strokeColor() == QColor("#e91e63")
    assert (bands.result.fillColor().name(), bands.result.fillColor().alpha()) == ("#e91e63", 90)
    panel.colors["box"].setColor(QColor("#3f51b5"))
    assert bands.box.strokeColor() == bands.drag.strokeColor() == QColor("#3f51b5")
    for name in ("bg", "preview", "boundary"):
        panel.colors[name].setColor(QColor("#000001"))
    assert (bands.bg.fillColor(), bands.preview.strokeColor(), bands.boundary.strokeColor()) == (
        QColor("#000001"),) * 3
    panel.point_size.setValue(24)
    panel.point_icon.setCurrentIndex(panel.point_icon.findData("cross"))
    assert bands.fg.iconSize() == bands.bg.iconSize() == 24
    assert bands.fg.icon() == QgsRubberBand.IconType.ICON_CROSS
    assert bands.fg.strokeColor() == QColor("#ffd600")
    # a cross: the colour on its arms, not in its corners
    assert near(pixel_color(dock, QgsPointXY(target.x() + 2.5, target.y())), QColor("#ffd600"))
    assert not near(pixel_color(dock, QgsPointXY(target.x() + 2.5, target.y() + 2.5)), QColor("#ffd600"))
    assert len(changed.calls) == 8
    dock.options_panel.boundary.setChecked(True)
    shoot(dock, screenshots, "styles", tab=STYLES_TAB)

    style = panel.style()
    assert style == Style(point_size=24, point_icon="cross", fg="#ffd600", bg="#000001", box="#3f51b5",
                          result="#e91e63", preview="#000001", boundary="#000001")
    assert preferences.load_style() == style
    # a new dock (as when QGIS starts again) draws with what was chosen
    dock.close_segmentation()
    again = SamscapeDock(engine, iface.mapCanvas(), iface.mainWindow())
    try:
        assert again.styles_panel.style() == style and again.segmentation.bands.style == style
        assert again.segmentation.bands.result.strokeColor() == QColor("#e91e63")
        assert again.options_panel.boundary.isChecked()
    finally:
        again.close_segmentation()
        again.deleteLater()


def test_max_polygon_only_and_vectorisation_retrace_the_result(dock: SamscapeDock, demo: dict,
                                                                screenshots: Path) -> None:
    panel, session = dock.options_panel, dock.segmentation.session
    buildings = prompted(dock, demo)
    click(dock, inside(buildings[3]))  # a second building: the result has a polygon on each
    several = polygons(dock)
    assert several >= 2
    panel.max_polygon_only.setChecked(True)
    settle(dock)
    assert polygons(dock) == 1 and session.session["points"] and session.vector["max_polygon_only"]
    assert dock.segmentation.bands.result.size() == 1
    panel.max_polygon_only.setChecked(False)
    settle(dock)
    assert polygons(dock) == several

    pixel = vertices(dock)
    panel.vectorize.setCurrentIndex(panel.vectorize.findData("simplified"))
    settle(dock)
    assert session.vector == {"max_polygon_only": False, "vectorize": "simplified"}
    assert vertices(dock) < pixel and polygons(dock) == several
    shoot(dock, screenshots, "options", tab=OPTIONS_TAB)
    assert preferences.load_options() == Options(vectorize="simplified")

    # the next session starts with them too: a new Load, then a prompt
    panel.max_polygon_only.setChecked(True)
    settle(dock)
    prompted(dock, demo)
    click(dock, inside(buildings[3]))
    assert polygons(dock) == 1


def test_enable_off_navigates_freely_and_ignores_the_keys(dock: SamscapeDock, demo: dict, engine, iface,
                                                          screenshots: Path) -> None:
    segmentation, panel = dock.segmentation, dock.options_panel
    canvas, tools, session = segmentation.canvas, segmentation.tools, segmentation.session
    prompted(dock, demo)
    assert canvas.mapTool() is tools["fg"]
    panel.enabled.setChecked(False)
    assert isinstance(canvas.mapTool(), QgsMapToolPan)
    assert not any(b.isEnabled() for b in dock.prompts_panel.tool_buttons.values())
    segmentation.set_tool("bg")
    assert isinstance(canvas.mapTool(), QgsMapToolPan)
    for name in ("save", "clear", "undo", "preview", "next_tool"):
        segmentation.shortcut(name)
    key(dock, Qt.Key.Key_S)
    key(dock, Qt.Key.Key_C)
    assert polygons(dock) >= 1 and not session.session["saved_groups"]
    assert panel.preview.isChecked() and segmentation.tool == "bg"
    shoot(dock, screenshots, "disabled", tab=OPTIONS_TAB)
    again = SamscapeDock(engine, iface.mapCanvas(), iface.mainWindow())
    try:  # a new dock starts with Enable off, its tools greyed
        assert not again.options_panel.enabled.isChecked()
        assert not again.prompts_panel.tool_buttons["fg"].parentWidget().isEnabled()
    finally:
        again.close_segmentation()
        again.deleteLater()
    assert isinstance(canvas.mapTool(), QgsMapToolPan)

    panel.enabled.setChecked(True)
    assert canvas.mapTool() is tools["bg"] and dock.prompts_panel.tool_buttons["bg"].isChecked()
    key(dock, Qt.Key.Key_Tab)
    key(dock, Qt.Key.Key_Tab)
    key(dock, Qt.Key.Key_S)
    assert canvas.mapTool() is tools["fg"] and len(session.session["saved_groups"]) == 1


def test_options_survive_a_new_dock_and_reset_restores_the_defaults(dock: SamscapeDock, demo: dict,
                                                                    engine, iface) -> None:
    segmentation, options, styles = dock.segmentation, dock.options_panel, dock.styles_panel
    buildings = prompted(dock, demo)
    key(dock, Qt.Key.Key_P)
    assert not options.preview.isChecked() and not segmentation.session.preview.enabled
    mouse(dock, QEvent.Type.MouseMove, to_canvas(dock, inside(buildings[1])))
    settle(dock)
    assert segmentation.bands.preview.size() == 0
    styles.point_size.setValue(6)
    options.boundary.setChecked(True)
    options.max_polygon_only.setChecked(True)
    options.vectorize.setCurrentIndex(options.vectorize.findData("simplified"))
    settle(dock)
    changed = Options(max_polygon_only=True, vectorize="simplified", preview=False, show_boundary=True)
    assert preferences.load_options() == options.options() == changed
    again = SamscapeDock(engine, iface.mapCanvas(), iface.mainWindow())
    try:
        assert again.options_panel.options() == changed and not again.segmentation.session.preview.enabled
        assert again.segmentation.session.vector == {"max_polygon_only": True, "vectorize": "simplified"}
        assert again.segmentation.bands.fg.iconSize() == 6
    finally:
        again.close_segmentation()
        again.deleteLater()

    assert segmentation.bands.boundary.size() > 0
    options.reset_button.click()
    settle(dock)
    assert options.options() == DEFAULT_OPTIONS and styles.style() == DEFAULT_STYLE
    assert preferences.load_options() == DEFAULT_OPTIONS and preferences.load_style() == DEFAULT_STYLE
    assert segmentation.session.preview.enabled and segmentation.bands.boundary.size() == 0
    assert segmentation.session.vector == {"max_polygon_only": False, "vectorize": "pixel"}
    assert segmentation.bands.fg.iconSize() == DEFAULT_STYLE.point_size
    mouse(dock, QEvent.Type.MouseMove, to_canvas(dock, inside(buildings[1])))
    settle(dock)
    assert segmentation.bands.preview.size() >= 1
