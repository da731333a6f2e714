"""Changing sources in a real browser: loads that race or fail, a feature folder whose raster is
elsewhere, an output layer in another CRS, the picker's icons, and a grid too large to list."""

from __future__ import annotations

import shutil
import time

import geopandas as gpd
import httpx
import numpy as np
import rasterio
from affine import Affine
from playwright.sync_api import Page, expect
from serve.test_chips_bounded import large_folder
from shapely.geometry import shape

from samscape.demo import generate_scene

from .conftest import Served
from .driving import open_app, shot, to_screen
from .test_app import _centre, _idle, _largest, _load, _result

# whether the map shows the raster's tiles
_RASTER_SHOWN = "() => samscapeApp.map.getLayers().getArray().includes(samscapeApp.layer('raster'))"


def _live(page: Page) -> None:
    page.check("input[name=mode][value=live]", force=True)
    page.select_option("#model", "demo")


def _drag_box(page: Page, bounds) -> None:
    x0, y0, x1, y1 = bounds
    page.mouse.move(*to_screen(page, x0, y1))
    page.mouse.down()
    page.mouse.move(*to_screen(page, x1, y0), steps=5)
    page.mouse.up()
    page.wait_for_function("() => !samscapeApp.busy && samscapeApp.session.box !== null")


def _groups(path) -> gpd.GeoDataFrame:
    return gpd.read_file(path) if path.exists() else gpd.GeoDataFrame({"group_id": []})


def _picker_entry(page: Page, name: str):
    return page.locator("#picker-entries li", has_text=name)


def test_a_second_load_wins_over_one_in_flight(page: Page, served: Served) -> None:
    open_app(page, served.url)
    page.evaluate("""() => {
        const $ = (id) => document.getElementById(id);
        $('source-path').value = 'features';
        $('load').click();
        const live = document.querySelector('input[name=mode][value=live]');
        live.checked = true;
        live.dispatchEvent(new Event('change'));
        $('model').value = 'demo';
        $('source-path').value = 'scene.tif';
        $('load').click(); }""")
    page.wait_for_function("() => !samscapeApp.loading && samscapeApp.session"
                           " && samscapeApp.source.mode === 'live'", timeout=30_000)
    page.wait_for_timeout(500)  # the first answer, had it been kept, would have landed by now
    assert page.evaluate("() => samscapeApp.source.path").endswith("scene.tif")
    expect(page.locator("#source-status")).to_contain_text("Loaded scene.tif: live")
    expect(page.locator("#source-path")).to_have_value(str(served.root / "scene.tif"))
    expect(page.locator("input[name=mode][value=live]")).to_be_checked()
    shot(page, "second-load")


def test_a_load_superseded_while_it_chooses_the_output_layer_changes_nothing(page: Page,
                                                                             served: Served) -> None:
    open_app(page, served.url)
    held = []

    def hold_the_first(route) -> None:  # the first load's output layer answers last
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/output", hold_the_first)
    page.fill("#source-path", "features")
    page.click("#load")
    while not held:
        page.wait_for_timeout(20)
    _live(page)
    _load(page, "scene.tif")
    expect(page.locator("#output-status")).to_contain_text("saving to samscape_polygons.gpkg")
    session = page.evaluate("() => samscapeApp.session.id")
    page.expected_errors.append("the server responded with a status of 404")  # its session is gone
    held[0].continue_()
    page.wait_for_timeout(500)
    assert page.evaluate("() => [samscapeApp.session.id, samscapeApp.source.mode]") == [session, "live"]
    expect(page.locator("#output-status")).to_have_class("message ok")
    expect(page.locator("#source-status")).to_contain_text("Loaded scene.tif: live")


def test_a_failed_load_keeps_the_scene_and_restores_the_form(page: Page, served: Served) -> None:
    open_app(page, served.url)
    _load(page, "features")
    page.wait_for_load_state("networkidle")
    shown = page.evaluate("() => samscapeApp.source.id")
    page.expected_errors.append("the server responded with a status of 404")
    _live(page)
    page.fill("#source-path", "no/such/scene.tif")
    page.click("#load")
    expect(page.locator("#source-status")).to_have_class("message error")
    expect(page.locator("#source-status")).to_contain_text("no/such/scene.tif")
    assert page.evaluate("() => !samscapeApp.loading && samscapeApp.source.id") == shown
    expect(page.locator("#source-path")).to_have_value(str(served.root / "features"))
    expect(page.locator("input[name=mode][value=pre-encoded]")).to_be_checked()
    expect(page.locator("#model")).to_be_disabled()
    assert page.evaluate(_RASTER_SHOWN)
    shot(page, "failed-load")


def test_a_moved_feature_folder_asks_for_its_raster(page: Page, served: Served) -> None:
    shutil.copytree(served.root / "features", served.root / "moved" / "features")
    with rasterio.open(served.root / "moved" / "other.tif", "w", driver="GTiff", width=64, height=64,
                       count=3, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500_000.0, 0, -0.5, 4_000_000.0)) as ds:
        ds.write(np.full((3, 64, 64), 90, "uint8"))
    open_app(page, served.url)
    _load(page, "moved/features")
    status = page.locator("#source-status")
    expect(status).to_contain_text("scene.tif")
    expect(status).to_contain_text("not found")
    expect(status).not_to_have_class("message ok")
    expect(page.locator("#find-raster")).to_be_visible()
    assert not page.evaluate(_RASTER_SHOWN)
    shot(page, "raster-missing")

    page.click("#find-raster")
    expect(page.locator("#picker-title")).to_contain_text("scene.tif")
    page.expected_errors.append("the server responded with a status of 400")
    _picker_entry(page, "other.tif").click()
    expect(status).to_have_class("message error")
    expect(status).to_contain_text("other.tif")
    expect(status).to_contain_text("is not the raster")
    assert page.evaluate("() => samscapeApp.source.raster") is None
    expect(page.locator("#find-raster")).to_be_visible()
    shot(page, "wrong-raster")

    page.click("#find-raster")
    _picker_entry(page, "..").click()
    with page.expect_response(lambda r: "/tiles/" in r.url and r.status == 200):
        _picker_entry(page, "scene.tif").click()
    page.wait_for_function("() => !samscapeApp.loading && samscapeApp.source.raster !== null")
    assert page.evaluate("() => samscapeApp.source.path").endswith("moved/features")
    expect(status).to_have_class("message ok")
    expect(page.locator("#find-raster")).to_be_hidden()
    assert page.evaluate(_RASTER_SHOWN)
    page.wait_for_load_state("networkidle")
    shot(page, "raster-found")


def test_the_picker_draws_icons_not_emoji(page: Page, served: Served) -> None:
    (served.root / "notes.txt").write_text("not a layer")
    (served.root / "empty").mkdir(exist_ok=True)
    open_app(page, served.url)
    page.click("#browse-source")
    entries = page.locator("#picker-entries li")
    expect(entries.first).to_be_visible()
    kinds = set(entries.evaluate_all("(items) => items.map((li) => li.dataset.kind)"))
    assert {"folder", "features", "raster", "layer", "file"} <= kinds
    for kind in kinds:
        icon = page.locator(f"#picker-entries li[data-kind={kind}] svg.icon").first
        expect(icon).to_be_visible()
        box = icon.bounding_box()
        assert box["width"] >= 12 and box["height"] >= 12, kind
    text = page.locator("#picker-entries").inner_text()
    assert all(ord(ch) < 0x2000 for ch in text), text  # no emoji left for a font to miss
    shot(page, "picker-icons")


def test_a_source_in_another_crs_never_keeps_the_output_layer_silently(page: Page, served: Served,
                                                                      scene) -> None:
    """A UTM source after a polar one saves to a layer of its own CRS, and says so; the polar layer,
    chosen on purpose, gets the polygons reprojected, at the right place with the right area."""
    polar = generate_scene(7, 256, 256)
    origin = (10_000.0, -2_000_000.0)  # NSIDC north polar stereographic, about 72° N
    with rasterio.open(served.root / "polar.tif", "w", driver="GTiff", width=256, height=256, count=3,
                       dtype="uint8", crs="EPSG:3413",
                       transform=Affine(0.5, 0, origin[0], 0, -0.5, origin[1])) as ds:
        ds.write(polar.image.transpose(2, 0, 1))
    polar_layer = served.root / "crs_test.gpkg"
    utm_layer = served.root / "crs_test_32633.gpkg"

    open_app(page, served.url)
    page.fill("#output-path", "crs_test")
    _live(page)
    _load(page, "scene.tif")  # nothing saved: the layer is not fixed to this CRS yet
    expect(page.locator("#output-status")).to_contain_text("crs_test.gpkg:crs_test (EPSG:32633)")
    _load(page, "polar.tif")
    expect(page.locator("#output-status")).to_have_text("saving to crs_test.gpkg:crs_test (EPSG:3413)")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # box
    _drag_box(page, (origin[0] + 20, origin[1] - 108, origin[0] + 108, origin[1] - 20))
    page.keyboard.press("S")
    expect(page.locator("#saved-rows tr")).to_have_count(1)
    assert _groups(polar_layer).crs.to_epsg() == 3413

    _load(page, "scene.tif")
    output = page.locator("#output-status")
    expect(output).to_contain_text("crs_test_32633.gpkg:crs_test_32633 (EPSG:32633)")
    expect(output).to_contain_text("crs_test.gpkg is in EPSG:3413")
    expect(page.locator("#saved")).to_be_hidden()  # the new layer has nothing yet
    page.keyboard.press("Tab")  # points
    building = _largest(scene, "building")
    page.mouse.click(*to_screen(page, *_centre(scene, building)))
    _idle(page, 1)
    drawn = _result(page)
    page.keyboard.press("S")
    expect(page.locator("#saved-rows tr")).to_have_count(1)
    shot(page, "own-crs-layer")
    saved = _groups(utm_layer)
    assert saved.crs.to_epsg() == 32633
    assert saved.union_all().symmetric_difference(drawn).area < 1e-6 * drawn.area
    assert abs(saved["area_m2"].sum() - drawn.area) < 0.01 * drawn.area

    # the polar layer chosen on purpose: kept, with a clear word that polygons are reprojected
    page.click("#browse-output")
    _picker_entry(page, "crs_test.gpkg").click()
    expect(output).to_contain_text("crs_test.gpkg:crs_test (EPSG:3413)")
    expect(output).to_contain_text("reprojected from EPSG:32633")
    before = set(_groups(polar_layer)["group_id"])
    water = _largest(scene, "water")
    page.mouse.click(*to_screen(page, *_centre(scene, water)))
    _idle(page, 1)
    drawn = _result(page)
    page.keyboard.press("S")
    expect(page.locator("#saved-rows tr")).to_have_count(2)
    expect(output).to_contain_text("to crs_test.gpkg:crs_test, reprojected into EPSG:3413")
    shot(page, "reprojected-layer")
    layer = _groups(polar_layer)
    assert layer.crs.to_epsg() == 3413
    new = layer[~layer["group_id"].isin(before)]
    back = shape(new.to_crs(32633).union_all().__geo_interface__)
    assert back.symmetric_difference(drawn).area < 0.002 * drawn.area
    assert abs(new["area_m2"].sum() - drawn.area) < 0.01 * drawn.area
    assert abs(new.geometry.area.sum() - drawn.area) > 0.1 * drawn.area  # 3413 units are not m² here


def test_a_closed_tab_ends_its_session(page: Page, served: Served) -> None:
    open_app(page, served.url)
    _load(page, "features")
    session = page.evaluate("() => samscapeApp.session.id")
    url = f"{served.url}api/sessions/{session}"
    assert httpx.get(url).status_code == 200
    page.close(run_before_unload=True)
    deadline = time.monotonic() + 10
    while httpx.get(url).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(url).status_code == 404


_CHIPS_DRAWN = ("() => samscapeApp.layer('chips').getSource().getFeatures()"
                ".map((f) => [f.get('id'), f.get('encoded')])")
_FIT = "(extent) => samscapeApp.map.getView().fit(extent)"


def test_a_grid_past_the_listing_limit_draws_the_chips_in_view(page: Page, served: Served) -> None:
    """6400 chips, every other one encoded: the server lists no polygon for the whole grid, so
    the app asks for those in view once the view settles; the status counts the whole grid."""
    chips = large_folder(served.root / "features", served.root / "big", 80)
    open_app(page, served.url)
    _load(page, "big")
    expect(page.locator("#source-status")).to_contain_text("3200 chips")
    assert page.evaluate(_CHIPS_DRAWN) == []  # the whole grid is in view
    page.click("#styles summary")
    page.check("#opt-boundary")
    xmin, _, _, ymax = chips.chip(0).footprint.bounds
    _, ymin, xmax, _ = chips.chip(3 * 80 + 3).footprint.bounds  # 80 chips a row
    page.evaluate(_FIT, [xmin, ymin, xmax, ymax])
    page.wait_for_function(f"() => ({_CHIPS_DRAWN})().length > 0")
    drawn = dict(page.evaluate(_CHIPS_DRAWN))
    assert drawn[0] is True and drawn[1] is False and len(drawn) < 100
    shot(page, "large-grid-chips-in-view")
    page.evaluate(_FIT, list(chips.chip(len(chips) - 1).footprint.bounds))
    page.wait_for_function(f"() => ({_CHIPS_DRAWN})().some(([id]) => id === {len(chips) - 1})")
    assert 0 not in dict(page.evaluate(_CHIPS_DRAWN))


def test_a_reload_reopens_the_tabs_source_and_layer_and_a_replaced_source_closes(
        page: Page, served: Served) -> None:
    open_app(page, served.url)
    _load(page, "features")
    first = page.evaluate("() => samscapeApp.source.id")
    _live(page)
    _load(page, "scene.tif")
    live = page.evaluate("() => samscapeApp.source.id")
    open_ids = [s["id"] for s in httpx.get(f"{served.url}api/sources").json()["sources"]]
    assert first not in open_ids and live in open_ids  # its last session ended with the switch
    page.fill("#output-path", "reloaded")
    page.select_option("#output-format", ".geojson")
    page.click("#use-output")
    expect(page.locator("#output-status")).to_have_text("saving to reloaded.geojson (EPSG:32633)")

    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#source-status")).to_contain_text("scene.tif")
    expect(page.locator("input[name=mode][value=live]")).to_be_checked()
    expect(page.locator("#output-status")).to_have_text("saving to reloaded.geojson (EPSG:32633)")
    assert page.evaluate("() => samscapeApp.session.output").endswith("reloaded.geojson")


def test_shortcuts_work_after_a_tool_is_clicked(page: Page, served: Served, scene) -> None:
    open_app(page, served.url)
    _load(page, "features")
    page.click("label[title='Background point']")
    assert page.evaluate("() => samscapeApp.tool") == "bg"
    page.keyboard.press("Tab")
    assert page.evaluate("() => samscapeApp.tool") == "box"
    page.click("label[title='Foreground point']")
    building = _largest(scene, "building")
    page.mouse.click(*to_screen(page, *_centre(scene, building)))
    _idle(page, 1)
    page.click("label[title='Foreground point']")
    page.keyboard.press("z")
    _idle(page, 0)


def test_an_encoding_whose_server_is_lost_says_so_and_can_start_again(page: Page, served: Served) -> None:
    open_app(page, served.url)
    _live(page)
    _load(page, "scene.tif")
    page.click("#copilot-details summary")
    expect(page.locator("#cp-summary")).to_contain_text("chips of 256 px")
    page.route("**/api/jobs/*", lambda route: route.abort() if route.request.method == "GET"
               else route.continue_())  # the server is gone once the job started
    page.expected_errors.append("net::ERR_FAILED")
    page.fill("#cp-out", "lost-features")
    page.click("#cp-encode")
    expect(page.locator("#cp-status")).to_contain_text("lost the encoding job", timeout=20_000)
    expect(page.locator("#cp-encode")).to_be_enabled()
    expect(page.locator("#cp-progress")).to_be_hidden()


def test_a_refused_existing_layer_leaves_the_form_and_the_layer_saved_to(page: Page, served: Served,
                                                                         scene) -> None:
    foreign = served.root / "foreign.geojson"
    gpd.GeoDataFrame({"kind": ["field"]}, geometry=gpd.points_from_xy([500100], [3999900]),
                     crs=32633).to_file(foreign)
    kept = foreign.read_bytes()
    open_app(page, served.url)
    _load(page, "features")
    output = page.locator("#output-status")
    expect(output).to_contain_text("saving to samscape_polygons.gpkg")
    page.click("#browse-output")
    page.expected_errors.append("status of 400")
    _picker_entry(page, "foreign.geojson").click()
    expect(output).to_contain_text("still saving to samscape_polygons.gpkg")
    assert page.input_value("#output-path") == "samscape_polygons"
    assert page.input_value("#output-format") == ".gpkg"
    page.mouse.click(*to_screen(page, *_centre(scene, _largest(scene, "building"))))
    _idle(page, 1)
    page.keyboard.press("S")
    expect(page.locator("#saved-rows tr")).to_have_count(1)
    assert len(_groups(served.root / "samscape_polygons.gpkg")) >= 1
    assert foreign.read_bytes() == kept
