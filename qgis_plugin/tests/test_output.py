"""The Output group: saves into a polygon layer of the project, end to end (real QGIS offscreen, the
real engine, the demo scene). A memory layer takes the engine's rows through its edit buffer, one
undoable command per save; a layer of a GeoPackage is written by the engine beside the file's other
layers, which stay as they were; the list of layers follows the project."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import Recorder, spin, wait_until
from qgis.core import (
    QgsCoordinateTransform,
    QgsFeature,
    QgsGeometry,
    QgsProject,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import Qt
from test_dock import (
    UTM,
    WGS84,
    click,
    iou,
    key,
    load,
    settle,
    shoot,
    truth_objects,
)

from samscape_qgis import edit_buffer, project_layers
from samscape_qgis.dock import SamscapeDock
from samscape_qgis.output_panel import NEW_GEOPACKAGE, default_output


def choices(dock: SamscapeDock) -> list[str]:
    combo = dock.output_panel.target
    return [combo.itemText(i) for i in range(combo.count())]


def inside(shape: QgsGeometry):
    return shape.poleOfInaccessibility(0.1)[0].asPoint()


def start(dock: SamscapeDock, demo: dict, *layers: QgsVectorLayer, choose: QgsVectorLayer | None = None
          ) -> None:
    """The demo's raster in the project with `layers` above it, `choose` chosen as the output, then
    the demo folder loaded and the canvas on it."""
    project_layers.add_raster(demo["raster"])
    QgsProject.instance().addMapLayers(list(layers))
    canvas = dock.segmentation.canvas
    wait_until(lambda: len(canvas.layers()) == 1 + len(layers), 10)  # the bridge has set up the canvas
    if choose is not None:
        dock.output_panel.target.setLayer(choose)
    load(dock, demo["folder"])
    dock.source_panel.zoom_button.click()


def in_utm(layer: QgsVectorLayer, ids: list[int] | None = None) -> QgsGeometry:
    """The union of the layer's features (those of `ids`), in EPSG:32633."""
    transform = QgsCoordinateTransform(layer.crs(), UTM, QgsProject.instance())
    shapes = []
    for feature in layer.getFeatures():
        if ids is None or feature.id() in ids:
            shape = QgsGeometry(feature.geometry())
            shape.transform(transform)
            shapes.append(shape)
    return QgsGeometry.unaryUnion(shapes)


def test_the_layer_list_follows_the_project(dock: SamscapeDock, screenshots: Path) -> None:
    panel = dock.output_panel
    assert choices(dock) == [NEW_GEOPACKAGE] and panel.layer() is None
    assert panel.output.isVisibleTo(dock)
    project = QgsProject.instance()
    lakes = QgsVectorLayer("Polygon?crs=EPSG:32633", "lakes", "memory")
    wells = QgsVectorLayer("Point?crs=EPSG:32633", "wells", "memory")
    fields = QgsVectorLayer("MultiPolygon?crs=EPSG:32633", "fields", "memory")
    project.addMapLayers([lakes, wells, fields])
    assert choices(dock) == [NEW_GEOPACKAGE, "fields", "lakes"]
    assert panel.layer() is None  # a layer coming does not change the choice

    chosen = Recorder(panel.layer_chosen)
    panel.target.setLayer(lakes)
    assert chosen.calls == [(lakes,)] and not panel.output.isVisibleTo(dock)
    assert panel.output_status.text() == ("saving to layer lakes (EPSG:32633) through its edit buffer: "
                                          "Save Layer Edits in QGIS keeps them")
    spin(0.1)  # the dock's layout settles (there is no map to wait for)
    dock.parentWidget().grab().save(str(screenshots / "dock-output-layer-chosen.png"))
    project.removeMapLayer(fields.id())
    assert choices(dock) == [NEW_GEOPACKAGE, "lakes"] and panel.layer() is lakes
    project.removeMapLayer(lakes.id())
    assert choices(dock) == [NEW_GEOPACKAGE] and panel.layer() is None
    assert dock.segmentation.output.layer is None and panel.output.isVisibleTo(dock)


def test_save_into_a_memory_layer_one_undoable_command_per_save(dock: SamscapeDock, demo: dict,
                                                                screenshots: Path) -> None:
    memory = QgsVectorLayer("Polygon?crs=EPSG:4326&field=note:string", "sketch", "memory")
    start(dock, demo, memory, choose=memory)  # chosen before the load: the engine writes nothing
    panel, segmentation = dock.output_panel, dock.segmentation
    assert segmentation.session.session["output"] is None
    assert panel.output_status.text() == ("saving to layer sketch (EPSG:4326) through its edit buffer: "
                                          "Save Layer Edits in QGIS keeps them")
    assert memory.fields().names() == ["note", *edit_buffer.FIELDS]
    first, second = truth_objects(demo, "building")[:2]

    click(dock, inside(first))
    key(dock, Qt.Key.Key_S)
    assert segmentation.bands.result.size() == 0 and memory.isEditable()
    assert memory.featureCount() >= 1 and memory.crs() == WGS84
    assert memory.dataProvider().featureCount() == 0  # in the edit buffer, not committed
    features = list(memory.getFeatures())
    (group_a,) = {f["group_id"] for f in features}
    row = features[0]
    assert (row["group_size"], row["fg_points"], row["bg_points"], row["box_used"], row["model"]) == (
        len(features), 1, 0, 0, "demo")
    assert row["note"] is None or not row["note"]
    assert iou(in_utm(memory), first) >= 0.7
    assert abs(sum(f["area_m2"] for f in features) - in_utm(memory).area()) < 0.02 * first.area()
    assert memory.undoStack().count() == 1
    assert dock.prompts_panel.output_status.text() == (
        f"saved {len(features)} polygon{'' if len(features) == 1 else 's'} to layer sketch (edit buffer: "
        "Save Layer Edits keeps them)")
    shoot(dock, screenshots, "output-memory-saved", tab=0)

    click(dock, inside(second))
    dock.prompts_panel.save_button.click()
    settle(dock)
    assert memory.undoStack().count() == 2
    groups = {f["group_id"] for f in memory.getFeatures()}
    assert len(groups) == 2 and group_a in groups
    ids_a = edit_buffer.group_features(memory, group_a)
    assert iou(in_utm(memory, ids_a), first) >= 0.7

    # QGIS's own undo takes back a save whole, and redo puts it back
    memory.undoStack().undo()
    assert {f["group_id"] for f in memory.getFeatures()} == {group_a}
    memory.undoStack().redo()
    assert {f["group_id"] for f in memory.getFeatures()} == groups
    shoot(dock, screenshots, "output-memory-two-saves", tab=1)

    # Undo save (Ctrl+Z) removes exactly the last group, as one more edit command
    key(dock, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {f["group_id"] for f in memory.getFeatures()} == {group_a}
    assert memory.undoStack().count() == 3
    assert dock.prompts_panel.output_status.text().startswith("removed the last save")
    assert iou(in_utm(memory), first) >= 0.7
    memory.undoStack().undo()  # the undo of the save is itself undoable in QGIS
    assert {f["group_id"] for f in memory.getFeatures()} == groups
    memory.undoStack().redo()
    dock.prompts_panel.undo_save_button.click()
    assert memory.featureCount() == 0 and memory.undoStack().count() == 4
    dock.prompts_panel.undo_save_button.click()
    assert dock.prompts_panel.output_status.text() == "there is no save to undo in layer sketch"
    shoot(dock, screenshots, "output-memory-undone", tab=1)

    # Undo save pressed while the save is on its way waits for it, and takes exactly it back
    click(dock, inside(first))
    dock.prompts_panel.save_button.click()
    dock.prompts_panel.undo_save_button.click()
    settle(dock)
    assert memory.featureCount() == 0 and memory.undoStack().count() == 6
    assert dock.prompts_panel.output_status.text().startswith("removed the last save")
    assert not Path(default_output(demo["folder"])).exists()


def test_a_layer_that_cannot_take_saves_is_refused_in_a_line(dock: SamscapeDock, demo: dict, root: Path,
                                                             screenshots: Path) -> None:
    path = root / "plain.csv"
    path.write_text("wkt,name\n\"POLYGON((0 0,1 0,1 1,0 0))\",a\n")
    csv = QgsVectorLayer(f"file://{path}?wktField=wkt&crs=EPSG:32633", "plain", "delimitedtext")
    assert csv.isValid()
    start(dock, demo, csv)
    dock.output_panel.target.setLayer(csv)
    refusal = ("layer plain cannot be edited (delimitedtext); choose an editable polygon layer or "
               "New GeoPackage…")
    assert dock.output_panel.output_status.text() == refusal
    click(dock, inside(truth_objects(demo, "building")[0]))
    key(dock, Qt.Key.Key_S)
    assert dock.prompts_panel.output_status.text() == refusal
    assert dock.segmentation.bands.result.size() >= 1  # nothing was taken: the object is still there
    shoot(dock, screenshots, "output-refused", tab=0)


def project_geopackage(path: Path) -> None:
    """A GeoPackage holding 'objects' (samscape's fields, empty) and 'parcels' (one of the user's
    features), both in EPSG:32633."""
    objects = QgsVectorLayer("Polygon?crs=EPSG:32633", "objects", "memory")
    assert edit_buffer.prepare(objects) == ""
    parcels = QgsVectorLayer("Polygon?crs=EPSG:32633&field=name:string", "parcels", "memory")
    parcel = QgsFeature(parcels.fields())
    parcel.setGeometry(QgsGeometry.fromRect(QgsRectangle(0, 0, 10, 10)))
    parcel.setAttribute("name", "mine")
    parcels.dataProvider().addFeatures([parcel])
    for layer, mode in ((objects, QgsVectorFileWriter.ActionOnExistingFile.CreateOrOverwriteFile),
                        (parcels, QgsVectorFileWriter.ActionOnExistingFile.CreateOrOverwriteLayer)):
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName, options.layerName, options.actionOnExistingFile = "GPKG", layer.name(), mode
        error = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(path), QgsProject.instance()
                                                          .transformContext(), options)
        assert error[0] == QgsVectorFileWriter.WriterError.NoError, error


def rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table}").fetchall()


def test_save_into_a_geopackage_layer_beside_another(dock: SamscapeDock, demo: dict, root: Path,
                                                     screenshots: Path) -> None:
    path = root / "project.gpkg"
    project_geopackage(path)
    parcels_before = rows(path, "parcels")
    objects = QgsVectorLayer(f"{path}|layername=objects", "objects", "ogr")
    parcels = QgsVectorLayer(f"{path}|layername=parcels", "parcels", "ogr")
    assert objects.isValid() and parcels.isValid()
    start(dock, demo, parcels, objects)
    panel, session = dock.output_panel, dock.segmentation.session
    default = session.session["output"]

    # a layer with other fields: the engine's line, and nothing is saved anywhere
    panel.target.setLayer(parcels)
    wait_until(lambda: "lacks samscape's fields" in panel.output_status.text(), 20,
               panel.output_status.text())
    assert "\n" not in panel.output_status.text()
    building = truth_objects(demo, "building")[0]
    click(dock, inside(building))
    assert dock.segmentation.bands.result.size() >= 1
    key(dock, Qt.Key.Key_S)
    assert dock.prompts_panel.output_status.text() == (
        "the engine did not accept layer parcels (see its message); choose another layer or New GeoPackage…")
    assert not Path(default).exists() and rows(path, "parcels") == parcels_before

    # samscape's layer of the same file: the engine saves into it, QGIS shows it reloaded
    panel.target.setLayer(objects)
    wait_until(lambda: panel.output_status.text() == "saving to project.gpkg (EPSG:32633)", 20,
               panel.output_status.text())
    assert session.session["output"] == str(path)
    key(dock, Qt.Key.Key_S)
    assert objects.featureCount() >= 1 and {f["model"] for f in objects.getFeatures()} == {"demo"}
    assert iou(in_utm(objects), building) >= 0.7
    assert not objects.isEditable() and objects.undoStack().count() == 0
    assert rows(path, "parcels") == parcels_before and parcels.featureCount() == 1
    assert dock.prompts_panel.output_status.text().endswith("to project.gpkg")
    shoot(dock, screenshots, "output-geopackage-saved", tab=0)

    key(dock, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert objects.featureCount() == 0 and rows(path, "objects") == []
    assert rows(path, "parcels") == parcels_before and parcels.featureCount() == 1

    # New GeoPackage… again: the file beside the folder
    panel.target.setLayer(None)
    wait_until(lambda: session.session["output"] == default, 20, panel.output_status.text())
    assert panel.output_status.text() == "saving to samscape_polygons.gpkg (EPSG:32633)"
