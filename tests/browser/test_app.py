"""The whole segmentation workflow in a real browser: load, prompt, preview, save, undo, live."""

from __future__ import annotations

import json
import subprocess
import sys
from io import BytesIO

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from playwright.sync_api import Page, expect
from shapely.geometry import shape

from samscape.demo.evaluate import point_prompt
from samscape.features import FeatureFolder

from .conftest import Served
from .driving import open_app, shot, to_screen


def _largest(scene, cls: str):
    return max((o for o in scene.objects if o.cls == cls), key=lambda o: o.geometry.area)


def _centre(scene, obj) -> tuple[float, float]:
    (point,) = point_prompt(scene, obj.object_id).points
    return point.x, point.y


def _idle(page: Page, points: int) -> None:
    page.wait_for_function(f"() => !samscapeApp.busy && samscapeApp.session.points.length === {points}")


def _result(page: Page, layer: str = "result"):
    """The polygons drawn on a map layer (the result, or the preview), as one shapely geometry."""
    features = page.evaluate("""(name) => samscapeApp.layer(name).getSource().getFeatures().map(
        (f) => new ol.format.GeoJSON().writeGeometryObject(f.getGeometry()))""", layer)
    return shape({"type": "GeometryCollection", "geometries": features}).buffer(0)


def _load(page: Page, path: str) -> None:
    page.fill("#source-path", path)
    page.click("#load")
    page.wait_for_function("() => !samscapeApp.loading && samscapeApp.session"
                           f" && samscapeApp.source.path.endsWith({path!r})")


def _iou(a, b) -> float:
    return a.intersection(b).area / a.union(b).area


def _saved_groups(served: Served) -> set[str]:
    path = served.root / "samscape_polygons.gpkg"
    return set(gpd.read_file(path)["group_id"]) if path.exists() else set()


def test_pre_encoded_workflow(page: Page, served: Served, scene) -> None:
    open_app(page, served.url)
    shot(page, "opened")
    leaked = page.evaluate("""() => [typeof state, typeof layers, typeof settings, typeof loading,
                                     typeof previewSeq, typeof dragBox, typeof TOKEN, typeof useSource]""")
    assert set(leaked) == {"undefined"}  # the modules keep their state; tests use window.samscapeApp
    page.click("#browse-source")
    page.locator("#picker-entries li[data-kind=features]").click()
    expect(page.locator("#source-status")).to_contain_text("25 chips, model demo, EPSG:32633")
    expect(page.locator("#model")).to_be_disabled()
    expect(page.locator("#model")).to_have_value("demo")
    expect(page.locator("#output-status")).to_contain_text("samscape_polygons.gpkg")
    page.wait_for_load_state("networkidle")
    shot(page, "loaded")

    building = _largest(scene, "building")
    page.mouse.click(*to_screen(page, *_centre(scene, building)))
    _idle(page, 1)
    assert _iou(_result(page), building.geometry) >= 0.7
    expect(page.locator("#prompt-status")).to_contain_text("1 foreground, 0 background")
    shot(page, "foreground-point")

    page.keyboard.press("Tab")  # background point
    xmin, ymin, xmax, ymax = building.geometry.bounds
    page.mouse.click(*to_screen(page, xmax + 6, ymin - 6))
    _idle(page, 2)
    expect(page.locator("#prompt-status")).to_contain_text("1 foreground, 1 background")
    assert _iou(_result(page), building.geometry) >= 0.7
    shot(page, "background-point")

    page.keyboard.press("S")
    expect(page.locator("#output-status")).to_contain_text("saved")
    first_save = _saved_groups(served)
    assert len(first_save) == 1
    expect(page.locator("#saved-rows tr")).to_have_count(1)
    shot(page, "saved-building")

    water = _largest(scene, "water")
    page.keyboard.press("Tab")  # box
    x0, y0, x1, y1 = water.geometry.buffer(2).bounds
    page.mouse.move(*to_screen(page, x0, y1))
    page.mouse.down()
    page.mouse.move(*to_screen(page, (x0 + x1) / 2, (y0 + y1) / 2), steps=5)
    page.mouse.move(*to_screen(page, x1, y0), steps=5)
    page.mouse.up()
    page.wait_for_function("() => !samscapeApp.busy && samscapeApp.session.box !== null")
    assert _iou(_result(page), water.geometry) >= 0.85
    shot(page, "box")
    page.keyboard.press("S")
    expect(page.locator("#saved-rows tr")).to_have_count(2)
    saved = gpd.read_file(served.root / "samscape_polygons.gpkg")
    water_group = (set(saved["group_id"]) - first_save).pop()
    assert _iou(saved[saved["group_id"] == water_group].union_all(), water.geometry) >= 0.85
    shot(page, "saved-water")

    page.keyboard.press("Tab")  # back to foreground points
    page.mouse.click(*to_screen(page, *_centre(scene, _largest(scene, "field"))))
    _idle(page, 1)
    page.keyboard.press("C")
    _idle(page, 0)
    assert page.evaluate("() => samscapeApp.layer('result').getSource().getFeatures().length") == 0
    shot(page, "cleared")

    page.mouse.click(*to_screen(page, *_centre(scene, building)))
    _idle(page, 1)
    page.keyboard.press("Z")
    _idle(page, 0)
    assert page.evaluate("() => samscapeApp.layer('prompts').getSource().getFeatures().length") == 0
    shot(page, "undone")

    page.keyboard.press("Control+z")
    expect(page.locator("#saved-rows tr")).to_have_count(1)
    assert _saved_groups(served) == first_save
    shot(page, "save-undone")


def test_preview_follows_the_mouse(page: Page, served: Served, scene) -> None:
    open_app(page, served.url)
    _load(page, "features")
    page.keyboard.press("P")
    expect(page.locator("#opt-preview")).to_be_checked()
    for obj in (_largest(scene, "building"), _largest(scene, "water")):
        page.mouse.move(*to_screen(page, *_centre(scene, obj)), steps=3)
        page.wait_for_function("""() => {
            const f = samscapeApp.layer('preview').getSource().getFeatures();
            return f.length > 0 && samscapeApp.previewIdle; }""")
        assert _iou(_result(page, "preview"), obj.geometry) >= 0.7, obj.cls
        shot(page, f"preview-{obj.cls}")
    assert page.evaluate("() => samscapeApp.session.points.length") == 0  # hovering keeps nothing

    water = _largest(scene, "water")  # dragging a box previews before the mouse is released
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    x0, y0, x1, y1 = water.geometry.buffer(2).bounds
    page.mouse.move(*to_screen(page, x0, y1))
    page.mouse.down()
    page.mouse.move(*to_screen(page, x1, y0), steps=8)
    page.wait_for_function("() => samscapeApp.previewIdle && samscapeApp.session.box === null")
    assert _iou(_result(page, "preview"), water.geometry) >= 0.85
    shot(page, "preview-box-drag")
    page.mouse.up()
    page.wait_for_function("() => !samscapeApp.busy && samscapeApp.session.box !== null")

    page.keyboard.press("P")
    expect(page.locator("#opt-preview")).not_to_be_checked()
    assert page.evaluate("() => samscapeApp.layer('preview').getSource().getFeatures().length") == 0


def test_live_mode_shows_progress_then_a_result(page: Page, served: Served, scene) -> None:
    open_app(page, served.url)
    page.check("input[name=mode][value=live]", force=True)
    expect(page.locator("#path-label")).to_have_text("Raster")
    expect(page.locator("#model")).to_be_enabled()
    page.select_option("#model", "demo")
    _load(page, "scene.tif")
    expect(page.locator("#source-status")).to_contain_text("live, 0 of 25 chips encoded")
    page.evaluate("""() => {
        window.progressSeen = [];
        const progress = document.getElementById('progress');
        const text = document.getElementById('progress-text');
        const seen = () => { if (!progress.hidden) progressSeen.push(text.textContent); };
        new MutationObserver(seen).observe(progress,
            { attributes: true, subtree: true, childList: true, characterData: true }); }""")
    field = _largest(scene, "field")
    page.mouse.click(*to_screen(page, *_centre(scene, field)))
    page.wait_for_function("() => progressSeen.length > 0")
    shot(page, "encoding")
    _idle(page, 1)
    assert all(text.startswith("encoding chips") for text in page.evaluate("() => progressSeen"))
    assert _iou(_result(page), field.geometry) >= 0.8
    shot(page, "live-result")

    # chips encoded now answer at once: no progress for a second click there
    page.evaluate("() => { progressSeen.length = 0; }")
    page.keyboard.press("C")
    _idle(page, 0)
    page.mouse.click(*to_screen(page, *_centre(scene, field)))
    _idle(page, 1)
    assert page.evaluate("() => progressSeen") == []


def test_typing_enable_switch_and_remembered_styles(page: Page, served: Served, scene) -> None:
    open_app(page, served.url)
    _load(page, "features")
    page.fill("#output-path", "typed s c z")  # shortcuts do nothing in a field
    assert page.evaluate("() => samscapeApp.tool") == "fg"
    page.press("#output-path", "Tab")
    assert page.evaluate("() => samscapeApp.tool") == "fg"

    page.uncheck("#enable")
    building = _largest(scene, "building")
    page.mouse.click(*to_screen(page, *_centre(scene, building)))
    page.wait_for_timeout(300)
    assert page.evaluate("() => samscapeApp.session.points.length") == 0
    page.check("#enable")

    page.click("#styles summary")
    page.fill("#style-pointSize", "12")
    page.dispatch_event("#style-pointSize", "change")
    page.check("#opt-boundary")
    expect(page.locator("#opt-boundary")).to_be_checked()
    assert page.evaluate("() => samscapeApp.layer('chips').getVisible()")
    shot(page, "boundary")
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    page.click("#styles summary")
    expect(page.locator("#style-pointSize")).to_have_value("12")
    expect(page.locator("#opt-boundary")).to_be_checked()
    page.click("#reset-styles")
    expect(page.locator("#style-pointSize")).to_have_value("7")
    expect(page.locator("#opt-boundary")).not_to_be_checked()


def test_a_polar_stereographic_raster_is_shown_in_its_own_crs(page: Page, served: Served) -> None:
    """A raster in EPSG:3031 is drawn in EPSG:3031, not warped to Web Mercator."""
    data = np.zeros((3, 400, 400), "uint8")
    data[0], data[1, :, :200], data[2, 200:, :] = 200, 180, 150
    with rasterio.open(served.root / "polar.tif", "w", driver="GTiff", width=400, height=400,
                       count=3, dtype="uint8", crs="EPSG:3031",
                       transform=Affine(50.0, 0, 1_000_000.0, 0, -50.0, -500_000.0)) as ds:
        ds.write(data)
    open_app(page, served.url)
    page.check("input[name=mode][value=live]", force=True)
    page.select_option("#model", "demo")
    _load(page, "polar.tif")
    expect(page.locator("#source-status")).to_contain_text("EPSG:3031")
    page.wait_for_load_state("networkidle")
    code = page.evaluate("() => samscapeApp.map.getView().getProjection().getCode()")
    assert page.evaluate("(code) => proj4.defs(code).projName", code) == "stere"
    shot(page, "polar")
    # a square of the raster is a square on screen, in the encoder's colours (top-left: 200, 180, 0)
    left, top = to_screen(page, 1_002_500, -502_500)
    right, bottom = to_screen(page, 1_007_500, -507_500)
    assert abs((right - left) - (bottom - top)) < 1
    low, high = page.evaluate("() => samscapeApp.source.value_range")
    expected = np.clip(np.rint((np.array([200, 180, 0]) - low) * 255 / (high - low)), 0, 255)
    pixels = page.screenshot(clip={"x": left + 2, "y": top + 2, "width": 4, "height": 4})
    rgb = np.asarray(Image.open(BytesIO(pixels)).convert("RGB")).reshape(-1, 3)
    assert np.abs(rgb.astype(int) - expected).max() <= 3


def test_the_copilot_draws_the_grid_exports_settings_and_encodes(page: Page, served: Served,
                                                                 tmp_path) -> None:
    open_app(page, served.url)
    page.check("input[name=mode][value=live]", force=True)
    page.select_option("#model", "demo")
    _load(page, "scene.tif")
    page.click("#copilot-details summary")
    expect(page.locator("#cp-summary")).to_contain_text("25 chips of 256 px, stride 128 px")
    expect(page.locator("#cp-summary")).to_contain_text("on this machine")  # measured
    assert page.evaluate("() => samscapeApp.layer('copilot').getSource().getFeatures().length") == 25
    page.fill("#cp-overlap", "0")
    page.dispatch_event("#cp-overlap", "change")
    expect(page.locator("#cp-summary")).to_contain_text("9 chips of 256 px, stride 256 px")
    assert page.evaluate("() => samscapeApp.layer('copilot').getSource().getFeatures().length") == 9
    page.click("#cp-stats")
    expect(page.locator("#cp-min")).not_to_have_value("")
    shot(page, "copilot-grid")

    with page.expect_download() as download:
        page.click("#cp-export")
    settings = tmp_path / "encode-settings.json"
    download.value.save_as(settings)
    assert json.loads(settings.read_text())["stride"] == 256
    run = subprocess.run([sys.executable, "-m", "samscape.cli.main", "encode", str(served.root / "scene.tif"),
                          str(tmp_path / "exported"), "--settings", str(settings)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(FeatureFolder.open(tmp_path / "exported").records) == 9

    page.fill("#cp-out", "copilot-features")
    page.click("#cp-encode")
    expect(page.locator("#source-status")).to_contain_text("Loaded scene.tif: 9 chips", timeout=60_000)
    expect(page.locator("input[name=mode][value=pre-encoded]")).to_be_checked()
    assert (served.root / "copilot-features" / "manifest.parquet").is_file()
    shot(page, "copilot-encoded")
