"""Session: the interactive loop of prompts, previews, undo, saves and undoing saves."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
from rasterio.crs import CRS
from rasterio.warp import transform as warp_points

from samscape.errors import NothingToSaveError, PromptError
from samscape.segment import PromptSet, Segmenter, Session
from samscape.vector import OutputLayer, VectorOptions, reproject

WGS84 = CRS.from_epsg(4326)


@pytest.fixture
def segmenter(source) -> Segmenter:
    # Bigger specks only, so that a save writes a handful of rows, not hundreds.
    return Segmenter(source, vector=VectorOptions(min_area=4.0), max_chips=2)


@pytest.fixture
def spots(source):
    """Map positions of a few pixel centres of the source."""
    t = source.grid.transform
    return [t @ (c + 0.5, r + 0.5) for c, r in [(300, 250), (310, 260), (100, 80), (500, 400)]]


def same_result(a, b) -> bool:
    return (a.window == b.window and a.chip_ids == b.chip_ids and a.prompts == b.prompts
            and np.array_equal(a.mask, b.mask))


def test_add_undo_clear(segmenter, spots) -> None:
    session = Session(segmenter)
    assert session.prompts.is_empty and session.result is None and session.crs == segmenter.source.crs
    first = session.add_point(*spots[0])
    assert first is session.result and not first.is_empty
    assert session.prompts.points[0].x == spots[0][0] and session.prompts.fg_count == 1
    second = session.add_point(*spots[1], label=0)
    assert session.result is second
    assert (session.prompts.fg_count, session.prompts.bg_count) == (1, 1)
    third = session.set_box(spots[0][0] - 5, spots[0][1] - 5, spots[0][0] + 5, spots[0][1] + 5)
    assert session.prompts.box is not None and third.prompts.box is not None
    # Undo returns the results as they were, step by step, down to the empty start.
    assert session.undo() is second and session.prompts.box is None
    assert session.undo() is first and session.prompts.bg_count == 0
    assert session.undo() is None and session.prompts.is_empty
    assert session.undo() is None and session.prompts.is_empty  # nothing more to undo
    session.add_point(*spots[2])
    session.add_point(*spots[3])
    session.clear()
    assert session.prompts.is_empty and session.result is None
    assert session.undo() is None and session.prompts.is_empty  # clear leaves nothing to undo


def test_a_new_box_replaces_the_old_one(segmenter, spots) -> None:
    session = Session(segmenter)
    x, y = spots[0]
    session.set_box(x - 5, y - 5, x + 5, y + 5)
    session.set_box(x - 2, y - 2, x + 3, y + 3)
    assert tuple(session.prompts.box) == (x - 2, y - 2, x + 3, y + 3)
    session.undo()
    assert tuple(session.prompts.box) == (x - 5, y - 5, x + 5, y + 5)


def test_background_points_alone_give_no_result(segmenter, spots) -> None:
    session = Session(segmenter)
    assert session.add_point(*spots[0], label=0) is None
    assert session.prompts.bg_count == 1 and session.result is None
    assert session.add_point(*spots[1]) is not None


def test_preview_changes_nothing_and_equals_adding(segmenter, spots) -> None:
    session = Session(segmenter)
    assert session.preview() is None
    first = session.add_point(*spots[0])
    before = session.prompts
    preview = session.preview(*spots[1], label=0)
    assert session.prompts is before and session.result is first
    box = (spots[0][0] - 5, spots[0][1] - 5, spots[0][0] + 5, spots[0][1] + 5)
    boxed = session.preview(box=box)
    assert session.prompts is before and session.result is first
    assert boxed.prompts.box is not None and boxed.prompts.points == before.points
    added = session.add_point(*spots[1], label=0)
    assert same_result(preview, added)
    with pytest.raises(PromptError):
        session.preview(0.0, 0.0)
    assert session.result is added


def test_failed_add_changes_nothing(segmenter, spots) -> None:
    session = Session(segmenter)
    first = session.add_point(*spots[0])
    prompts = session.prompts
    with pytest.raises(PromptError, match="outside"):
        session.add_point(0.0, 0.0)
    with pytest.raises(PromptError, match="outside"):
        session.set_box(0.0, 0.0, 1.0, 1.0)
    with pytest.raises(PromptError):
        session.add_point(spots[1][0], float("nan"))
    with pytest.raises(PromptError):
        session.set_box(5.0, 5.0, 1.0, 1.0)
    assert session.prompts is prompts and session.result is first
    assert session.undo() is None and session.prompts.is_empty  # exactly one step was recorded


def test_prompts_in_another_crs(segmenter, source, spots) -> None:
    session = Session(segmenter, crs="EPSG:4326")
    (lon,), (lat,) = warp_points(source.crs, WGS84, [spots[0][0]], [spots[0][1]])
    result = session.add_point(lon, lat)
    assert session.prompts.crs == WGS84 and session.prompts.points[0].x == lon
    assert result.prompts.crs == source.crs
    assert (result.prompts.points[0].x, result.prompts.points[0].y) == pytest.approx(spots[0], abs=1e-4)
    direct = segmenter.segment(PromptSet(source.crs).add_point(*spots[0]))
    np.testing.assert_array_equal(result.mask, direct.mask)


def test_save_and_undo_save(segmenter, source, spots, tmp_path) -> None:
    path = tmp_path / "objects.gpkg"
    layer = OutputLayer(path, source.crs)
    session = Session(segmenter, layer=layer)
    with pytest.raises(NothingToSaveError):
        session.save()
    with pytest.raises(NothingToSaveError):
        session.undo_save()

    result = session.add_point(*spots[0])
    session.add_point(*spots[1], label=0)
    result = session.result
    first = session.save()
    assert session.prompts.is_empty and session.result is None  # ready for the next object
    assert session.saved_groups == [first.group_id]
    assert len(first.group_id) == 26
    assert len(first.rows) == len(result.polygons) >= 1
    for row, polygon in zip(first.rows, result.polygons, strict=True):
        assert row.group_id == first.group_id and row.group_size == len(first.rows)
        assert (row.fg_points, row.bg_points, row.box_used) == (1, 1, 0)
        assert row.geometry.equals(polygon)
        assert row.area_m2 == pytest.approx(polygon.area, rel=1e-3)  # UTM's scale is 0.9996 here
        assert row.model == "tiny-random-sam" and row.source == source.name
    df = pyogrio.read_dataframe(path)
    assert len(df) == len(first.rows) and set(df["group_id"]) == {first.group_id}
    assert df.crs.equals(source.crs.to_wkt()) or df.crs.to_epsg() == 32633

    x, y = spots[2]
    session.set_box(x - 4, y - 4, x + 4, y + 4)
    second = session.save()
    assert second.group_id != first.group_id and all(r.box_used == 1 for r in second.rows)
    assert session.saved_groups == [first.group_id, second.group_id]
    df = pyogrio.read_dataframe(path)
    assert len(df) == len(first.rows) + len(second.rows)

    assert session.undo_save() == second.group_id
    assert session.saved_groups == [first.group_id]
    df = pyogrio.read_dataframe(path)
    assert list(df["group_id"]) == [first.group_id] * len(first.rows)
    assert [g.wkb for g in df.geometry] == [r.geometry.wkb for r in first.rows]
    assert list(df["area_m2"]) == pytest.approx([r.area_m2 for r in first.rows])
    assert [r.group_id for r in layer.read()] == [first.group_id] * len(first.rows)

    assert session.undo_save() == first.group_id
    assert len(pyogrio.read_dataframe(path)) == 0 and layer.read() == []
    with pytest.raises(NothingToSaveError):
        session.undo_save()


def test_save_without_layer_or_result_is_refused(segmenter, spots) -> None:
    session = Session(segmenter)
    session.add_point(*spots[0])
    with pytest.raises(NothingToSaveError, match="no output layer"):
        session.save()
    assert session.result is not None  # nothing was cleared


def test_save_into_a_layer_in_another_crs(segmenter, source, spots, tmp_path) -> None:
    layer = OutputLayer(tmp_path / "objects.gpkg", WGS84)
    session = Session(segmenter, layer=layer)
    result = session.add_point(*spots[3])
    group = session.save()
    expected = reproject(list(result.polygons), source.crs, WGS84)
    assert len(group.rows) == len(expected)
    for row, polygon in zip(group.rows, expected, strict=True):
        assert row.geometry.equals_exact(polygon, 1e-12)
    for row, polygon in zip(group.rows, result.polygons, strict=True):
        assert row.area_m2 == pytest.approx(polygon.area, rel=1e-3)  # m², not degrees²
    (lon0, lat0, lon1, lat1) = pyogrio.read_dataframe(layer.path).total_bounds
    assert 14 < lon0 < lon1 < 16 and 35 < lat0 < lat1 < 37


def test_save_into_an_existing_polar_layer_reprojects_and_keeps_square_metres(segmenter, source, spots,
                                                                               tmp_path) -> None:
    """The server's case: the layer was made by an EPSG:3413 source, then a UTM source saves into
    it (the layer keeps its CRS). Polygons land where they are; area_m2 is not the +49 % of
    polar stereographic's planar area at 36 N."""
    polar = CRS.from_epsg(3413)
    path = tmp_path / "samscape_polygons.gpkg"
    first = Session(segmenter, layer=OutputLayer(path, polar))
    first.add_point(*spots[0])
    first.save()
    layer = OutputLayer(path, OutputLayer.crs_of(path) or source.crs)  # as serve's Layers does
    assert layer.crs == polar
    session = Session(segmenter, layer=layer)
    result = session.add_point(*spots[3])
    group = session.save()
    saved = [r for r in OutputLayer(path, polar).read() if r.group_id == group.group_id]
    assert len(saved) == len(result.polygons) >= 1
    back = reproject([r.geometry for r in saved], polar, source.crs)
    for row, polygon, returned in zip(saved, result.polygons, back, strict=True):
        assert returned.symmetric_difference(polygon).area <= 1e-6 * polygon.area
        assert row.area_m2 == pytest.approx(polygon.area, rel=1e-3)
        assert row.geometry.area > 1.4 * polygon.area  # the planar area in EPSG:3413 is not m²
