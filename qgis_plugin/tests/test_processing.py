"""The Processing provider "samscape" through QGIS's real Processing framework (`processing.run`),
loaded as `qgis_process` loads it (`startProcessingPlugin`: initProcessing alone, no iface), running
the real samscape command on the bundled demo model: progress, cancel and resume, one-line errors,
segmentation of prompts in another CRS than the folder's, and the Copilot's settings file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import qgis.utils
from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsFeature,
    QgsField,
    QgsGeometry,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputFolder,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QVariant

PLUGINS = Path(__file__).resolve().parents[1]
NAME = "samscape_qgis"
UTM = QgsCoordinateReferenceSystem("EPSG:32633")
WGS84 = QgsCoordinateReferenceSystem("EPSG:4326")


class Feedback(QgsProcessingFeedback):
    """Records progress and messages; `cancel_after` progress steps, it cancels."""

    def __init__(self, cancel_after: int | None = None) -> None:
        super().__init__()
        self.progress: list[float] = []
        self.infos: list[str] = []
        self.commands: list[str] = []
        self.cancel_after = cancel_after
        self.progressChanged.connect(self._progress)

    def _progress(self, value: float) -> None:
        self.progress.append(value)
        if self.cancel_after is not None and len(self.progress) >= self.cancel_after:
            self.cancel()

    def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS's names
        self.infos.append(info)
        super().pushInfo(info)

    def pushCommandInfo(self, info: str) -> None:  # noqa: N802
        self.commands.append(info)
        super().pushCommandInfo(info)


def samscape(command: str, *args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([command, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def folder_info(command: str, folder: Path, validate: bool = False) -> dict:
    """`samscape info --json` of `folder`; `validate`: also checks every chip (and that all pass)."""
    done = samscape(command, "info", folder, "--json", *(["--validate"] if validate else []))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert not validate or info["problems"] == {}
    return info


def chip_files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (folder / "features").glob("chip_*.pt")}


def processes_naming(text: str) -> list[int]:
    """Ids of the running processes whose command line holds `text` (Linux's /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def project_python(command: str) -> str:
    """A Python with samscape installed (SAMSCAPE_PYTHON, the samscape command's interpreter, or
    python3/python on PATH), to call samscape's own settings writer."""
    candidates = [os.environ.get("SAMSCAPE_PYTHON")]
    first = Path(command).read_bytes()[:200].split(b"\n")[0].decode(errors="replace")
    if first.startswith("#!") and "python" in first:
        candidates.append(first[2:].strip().split()[0])
    candidates += [shutil.which("python3"), shutil.which("python")]
    for python in filter(None, candidates):
        if subprocess.run([python, "-c", "import samscape.settings"], capture_output=True).returncode == 0:
            return python
    raise AssertionError(f"no Python with samscape among {candidates}; set SAMSCAPE_PYTHON")


@pytest.fixture(scope="module")
def provider(samscape_command: str):
    """QGIS's Processing initialised and the plugin started as qgis_process starts it."""
    from samscape_qgis import settings

    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing

    Processing.initialize()
    settings.save(settings.EngineSettings(command=samscape_command))
    if str(PLUGINS) not in qgis.utils.plugin_paths:
        qgis.utils.plugin_paths.append(str(PLUGINS))
    qgis.utils.updateAvailablePlugins()
    assert qgis.utils.startProcessingPlugin(NAME)
    registry = QgsApplication.processingRegistry()
    yield registry.providerById("samscape")
    qgis.utils.unloadPlugin(NAME)
    assert registry.providerById("samscape") is None


@pytest.fixture(scope="module")
def demo(samscape_command: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`samscape demo` at 512 px: scene.tif, scene_truth.gpkg and its encoded features/."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    done = samscape(samscape_command, "demo", "--out", out, "--size", 512, "--json", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return {key: Path(report[key]) for key in ("raster", "truth", "folder")}


@pytest.fixture
def project_raster():
    """Add a raster file to the project as a layer (the project owns it, and deletes it at the
    test's end: a layer that outlived QGIS's exit, held by a traceback, would crash the exit)."""
    added: list[str] = []

    def add(path: Path, name: str) -> QgsRasterLayer:
        layer = QgsRasterLayer(str(path), name)
        assert layer.isValid()
        QgsProject.instance().addMapLayer(layer)
        added.append(layer.id())
        return layer

    yield add
    QgsProject.instance().removeMapLayers(added)


def run(algorithm: str, parameters: dict, feedback: QgsProcessingFeedback | None = None) -> dict:
    import processing

    return processing.run(f"samscape:{algorithm}", parameters, feedback=feedback or Feedback())


def test_the_provider_lists_both_algorithms(provider) -> None:
    assert provider is not None and provider.name() == "samscape" and not provider.icon().isNull()
    ids = sorted(a.id() for a in provider.algorithms())
    assert ids == ["samscape:encode", "samscape:segment"]
    encode = provider.algorithm("encode")
    assert isinstance(encode.outputDefinition("OUTPUT"), QgsProcessingOutputFolder)
    assert provider.defaultVectorFileExtension() == "gpkg"
    assert qgis.utils.pluginMetadata(NAME, "hasProcessingProvider") == "yes"  # qgis_process loads it


def test_encode_reports_progress_and_writes_a_valid_folder(provider, demo, samscape_command,
                                                           project_raster, tmp_path: Path) -> None:
    layer = project_raster(demo["raster"], "scene")
    extent = layer.extent()
    right = extent.xMinimum() + 0.75 * extent.width()  # 384 px of 512: 2 × 3 chips of 256 px
    folder = tmp_path / "features"
    feedback = Feedback()
    result = run("encode", {
        "INPUT": layer.id(), "MODEL": "demo", "BANDS": [3, 2, 1], "RANGE": "10,200", "CRS": "EPSG:32633",
        "RESOLUTION": 0.5, "EXTENT": f"{extent.xMinimum()},{right},{extent.yMinimum()},"
                                    f"{extent.yMaximum()} [EPSG:32633]",
        "STRIDE": 128, "BATCH_SIZE": 2, "DEVICE": "cpu", "DTYPE": "float32", "MIXED_PRECISION": "off",
        "OUTPUT": str(folder)}, feedback)

    assert result == {"OUTPUT": str(folder), "ENCODED": 6, "ALREADY_DONE": 0, "GRID_CHIP_COUNT": 6}
    assert [round(p) for p in feedback.progress] == [33, 67, 100]
    assert "--progress-json" in feedback.commands[0]
    info = folder_info(samscape_command, folder, validate=True)
    assert info["model"]["id"] == "demo" and info["dtype"] == "float32" and info["chip_count"] == 6
    assert info["preprocessing"]["bands"] == [3, 2, 1]
    assert info["preprocessing"]["value_range"] == [10.0, 200.0]
    assert info["preprocessing"]["stride"] == 128
    assert info["extent"] == [extent.xMinimum(), extent.yMinimum(), right, extent.yMaximum()]


def test_cancel_stops_the_process_and_a_rerun_resumes(provider, samscape_command, tmp_path: Path) -> None:
    raster = tmp_path / "scene.tif"
    assert samscape(samscape_command, "sample-raster", raster).returncode == 0  # 1200 × 900 px
    folder = tmp_path / "features"
    square = "500000,500384,3999616,4000000 [EPSG:32633]"  # 768 px square: 25 chips of the demo model
    parameters = {"INPUT": str(raster), "MODEL": "demo", "EXTENT": square, "BATCH_SIZE": 1,
                  "OUTPUT": str(folder)}
    feedback = Feedback(cancel_after=1)
    with pytest.raises(QgsProcessingException) as raised:
        run("encode", parameters, feedback)

    message = str(raised.value)
    assert message.startswith("canceled; ") and "resume" in message and "\n" not in message
    assert any("keeps the chips encoded so far" in info for info in feedback.infos)
    assert processes_naming(str(folder)) == []
    kept = chip_files(folder)
    info = folder_info(samscape_command, folder)
    assert 1 <= info["chip_count"] == len(kept) < info["grid_chip_count"] == 25

    again = Feedback()
    result = run("encode", {**parameters, "BATCH_SIZE": 8}, again)  # not part of the encoding
    assert result["ALREADY_DONE"] == len(kept) and result["ENCODED"] == 25 - len(kept)
    assert again.progress[-1] == 100
    assert {name: chip_files(folder)[name] for name in kept} == kept  # not written again
    assert folder_info(samscape_command, folder, validate=True)["chip_count"] == 25


def test_bad_inputs_fail_with_the_commands_one_line(provider, demo, samscape_command, project_raster,
                                                    tmp_path: Path) -> None:
    from samscape_qgis import settings

    moved = tmp_path / "moved.tif"
    shutil.copy(demo["raster"], moved)
    layer = project_raster(moved, "moved")
    moved.unlink()  # the file went away after the layer was loaded
    with pytest.raises(QgsProcessingException) as raised:
        run("encode", {"INPUT": layer.id(), "MODEL": "demo", "OUTPUT": str(tmp_path / "a")})
    assert re.fullmatch(r"samscape: error: cannot open raster '.*moved\.tif'.*", str(raised.value))

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(QgsProcessingException) as raised:
        run("encode", {"INPUT": str(demo["raster"]), "MODEL": "demo", "OUTPUT": str(busy)})
    assert str(raised.value) == (f"samscape: error: '{busy}' is not empty and is not a feature folder; "
                                 f"choose a new or empty folder")
    assert (busy / "notes.txt").read_text() == "mine"

    settings.save(settings.EngineSettings(command=str(tmp_path / "no" / "samscape")))
    try:
        with pytest.raises(QgsProcessingException) as raised:
            run("encode", {"INPUT": str(demo["raster"]), "OUTPUT": str(tmp_path / "b")})
    finally:
        settings.save(settings.EngineSettings(command=samscape_command))
    assert str(raised.value).startswith(f"samscape not found at {tmp_path / 'no' / 'samscape'}; install")


def truth_objects(truth: Path, kind: str, count: int) -> list[QgsGeometry]:
    layer = QgsVectorLayer(str(truth), "truth", "ogr")
    assert layer.isValid() and layer.crs() == UTM
    shapes = [f.geometry() for f in layer.getFeatures() if f["class"] == kind]
    return sorted(shapes, key=lambda g: -g.area())[:count]


def iou(a: QgsGeometry, b: QgsGeometry) -> float:
    return a.intersection(b).area() / a.combine(b).area()


def test_segment_points_in_another_crs_than_the_folders(provider, demo, tmp_path: Path) -> None:
    buildings = truth_objects(demo["truth"], "building", 3)
    to_wgs84 = QgsCoordinateTransform(UTM, WGS84, QgsProject.instance())
    prompts = QgsVectorLayer("Point?crs=EPSG:4326", "prompts", "memory")
    prompts.dataProvider().addAttributes([QgsField("Label", QVariant.Int),
                                          QgsField("GROUP", QVariant.String)])
    prompts.updateFields()
    for n, building in enumerate(buildings):
        point = building.pointOnSurface()
        point.transform(to_wgs84)
        feature = QgsFeature(prompts.fields())
        feature.setGeometry(point)
        feature.setAttributes([1, f"building {n}"])
        prompts.dataProvider().addFeature(feature)
    out = tmp_path / "buildings.gpkg"
    feedback = Feedback()
    result = run("segment", {"PROMPTS": prompts, "FEATURES": str(demo["folder"]), "OUTPUT": str(out)},
                 feedback)

    assert result["OUTPUT"] == str(out)
    assert any("saved" in info and "of 3 object(s)" in info for info in feedback.infos), feedback.infos
    polygons = QgsVectorLayer(str(out), "polygons", "ogr")
    assert polygons.isValid() and polygons.crs() == UTM
    saved = [f.geometry() for f in polygons.getFeatures()]
    assert len(saved) >= 3
    for building in buildings:
        assert max(iou(building, polygon) for polygon in saved) >= 0.6


def test_segment_polygon_boxes_replaces_the_output(provider, demo, tmp_path: Path) -> None:
    shapes = truth_objects(demo["truth"], "building", 2)
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    to_mercator = QgsCoordinateTransform(UTM, mercator, QgsProject.instance())
    prompts = QgsVectorLayer("Polygon?crs=EPSG:3857", "boxes", "memory")
    for shape in shapes:
        box = QgsGeometry.fromRect(shape.boundingBox().buffered(1.0))
        box.transform(to_mercator)
        feature = QgsFeature(prompts.fields())
        feature.setGeometry(box)
        prompts.dataProvider().addFeature(feature)
    out = tmp_path / "boxes.gpkg"
    parameters = {"PROMPTS": prompts, "FEATURES": str(demo["folder"]), "MAX_POLYGON_ONLY": True,
                  "VECTORIZE": "simplified", "OUTPUT": str(out)}
    run("segment", parameters)
    run("segment", parameters)  # an existing output file is replaced, as Processing does

    saved = [f.geometry() for f in QgsVectorLayer(str(out), "boxes", "ogr").getFeatures()]
    assert len(saved) == 2
    for shape in shapes:
        assert max(iou(shape, polygon) for polygon in saved) >= 0.6


def test_the_copilots_settings_file_is_read_and_parameters_win(provider, demo, samscape_command,
                                                               tmp_path: Path) -> None:
    settings_file = tmp_path / "settings.json"
    writer = ("import sys; from samscape.settings import EncodeSettings, write_settings_file; "
              "write_settings_file(EncodeSettings(model='demo', bands=(3, 2, 1), value_range=(5, 250), "
              "stride=200, batch_size=3), sys.argv[1])")
    written = subprocess.run([project_python(samscape_command), "-c", writer, str(settings_file)],
                             capture_output=True, text=True, timeout=120)
    assert written.returncode == 0, written.stderr
    folder = tmp_path / "features"
    corner = "500000,500128,3999872,4000000 [EPSG:32633]"  # one chip
    run("encode", {"INPUT": str(demo["raster"]), "SETTINGS": str(settings_file), "BANDS": [2],
                   "EXTENT": corner, "OUTPUT": str(folder)})

    info = folder_info(samscape_command, folder)
    assert info["model"]["id"] == "demo" and info["preprocessing"]["stride"] == 200
    assert info["preprocessing"]["value_range"] == [5.0, 250.0]
    assert info["preprocessing"]["bands"] == [2, 2, 2]  # the parameter given wins


def qgis_process() -> str:
    """QGIS's command-line runner; Debian's `qgis_process` wrapper passes an option
    (--noversioncheck, from /etc/default/qgis) that 3.22's runner refuses, so its binary first."""
    found = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
    assert found, "qgis_process not found: install QGIS (Debian: the qgis package)"
    return found


def test_qgis_process_lists_and_runs_the_algorithms(demo, samscape_command, tmp_path: Path) -> None:
    home = tmp_path / "home"  # a fresh default profile, as `samscape qgis install` leaves it
    ini = home / ".local/share/QGIS/QGIS3/profiles/default/QGIS/QGIS3.ini"
    ini.parent.mkdir(parents=True)
    ini.write_text(f"[PythonPlugins]\n{NAME}=true\n\n[samscape]\nengine_command={samscape_command}\n")
    env = {key: value for key, value in os.environ.items()  # start_app set QGIS_CUSTOM_CONFIG_PATH
           if not key.startswith(("XDG_", "QGIS_"))}
    env.update(HOME=str(home), QGIS_PLUGINPATH=str(PLUGINS), QT_QPA_PLATFORM="offscreen")

    listed = subprocess.run([qgis_process(), "list"], capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"samscape:encode\tEncode raster", listed.stdout), listed.stdout
    assert re.search(r"samscape:segment\tSegment from prompts layer", listed.stdout)

    folder = tmp_path / "features"
    ran = subprocess.run([qgis_process(), "run", "samscape:encode", "--json", "--",
                          f"INPUT={demo['raster']}", "MODEL=demo", "EXTENT=500000,500128,3999872,4000000",
                          f"OUTPUT={folder}"], capture_output=True, text=True, env=env, timeout=300)
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)["results"]
    assert results == {"OUTPUT": str(folder), "ENCODED": 1, "ALREADY_DONE": 0, "GRID_CHIP_COUNT": 1}


def test_a_model_chains_encode_into_segment(provider, demo, tmp_path: Path) -> None:
    from qgis.core import (
        QgsProcessingModelAlgorithm,
        QgsProcessingModelChildAlgorithm,
        QgsProcessingModelChildParameterSource,
        QgsProcessingModelOutput,
        QgsProcessingModelParameter,
        QgsProcessingParameterFeatureSource,
        QgsProcessingParameterRasterLayer,
    )

    model = QgsProcessingModelAlgorithm("encode and segment", "samscape")
    model.addModelParameter(QgsProcessingParameterRasterLayer("raster", "Raster"),
                            QgsProcessingModelParameter("raster"))
    model.addModelParameter(QgsProcessingParameterFeatureSource("prompts", "Prompts"),
                            QgsProcessingModelParameter("prompts"))
    encode = QgsProcessingModelChildAlgorithm("samscape:encode")
    encode.setChildId("encode")
    encode.addParameterSources("INPUT", [QgsProcessingModelChildParameterSource.fromModelParameter("raster")])
    encode.addParameterSources("MODEL", [QgsProcessingModelChildParameterSource.fromStaticValue("demo")])
    model.addChildAlgorithm(encode)
    segment = QgsProcessingModelChildAlgorithm("samscape:segment")
    segment.setChildId("segment")
    segment.addParameterSources("FEATURES", [QgsProcessingModelChildParameterSource.fromChildOutput(
        "encode", "OUTPUT")])
    segment.addParameterSources("PROMPTS", [QgsProcessingModelChildParameterSource.fromModelParameter(
        "prompts")])
    polygons = QgsProcessingModelOutput("polygons")
    polygons.setChildId("segment")
    polygons.setChildOutputName("OUTPUT")
    segment.setModelOutputs({"polygons": polygons})
    model.addChildAlgorithm(segment)
    assert model.dependsOnChildAlgorithms("segment") == {"encode"}

    building = truth_objects(demo["truth"], "building", 1)[0]
    prompts = QgsVectorLayer("Point?crs=EPSG:32633", "prompts", "memory")
    feature = QgsFeature(prompts.fields())
    feature.setGeometry(building.pointOnSurface())
    prompts.dataProvider().addFeature(feature)
    out = tmp_path / "model.gpkg"
    import processing

    result = processing.run(model, {"raster": str(demo["raster"]), "prompts": prompts,
                                    "segment:polygons": str(out)}, feedback=Feedback())
    assert result["segment:polygons"] == str(out)
    saved = [f.geometry() for f in QgsVectorLayer(str(out), "model", "ogr").getFeatures()]
    assert saved and max(iou(building, polygon) for polygon in saved) >= 0.6
