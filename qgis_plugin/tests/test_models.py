"""The Models dialog and the dock's offer of a missing model, against a real engine whose model
store is a temporary folder (SAMSCAPE_HOME, set for the engine these tests start: the user's store
is untouched) and which cannot reach the model hub (HF_HUB_OFFLINE=1: a download fails at once, as
on a machine without internet). The folder imported is the repository's bundled demo model (a
transformers SAM folder, as users import) under an id of its own, so that it can go missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import Recorder, spin, wait_until
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QMessageBox, QTreeWidgetItem

from samscape_qgis.client import Reply
from samscape_qgis.dock import SamscapeDock
from samscape_qgis.engine import Engine
from samscape_qgis.models_panel import ModelsDialog
from samscape_qgis.session import missing_model_line
from samscape_qgis.settings import EngineSettings

DEMO_MODEL = Path(__file__).resolve().parents[2] / "samscape" / "models" / "bundled" / "demo"


def write_scene(path: Path, size: int = 256) -> None:
    """A 3-band byte GeoTIFF in EPSG:32633 (0.5 m pixels) with smooth structure."""
    import numpy as np
    from osgeo import gdal, osr

    yy, xx = np.mgrid[0:size, 0:size]
    data = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 3, gdal.GDT_Byte)
    data.SetGeoTransform((500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5))
    crs = osr.SpatialReference()
    crs.ImportFromEPSG(32633)
    data.SetProjection(crs.ExportToWkt())
    for band in range(3):
        wave = np.sin(xx / (17.0 + 5 * band)) + np.cos(yy / (23.0 + 3 * band))
        data.GetRasterBand(band + 1).WriteArray(((wave + 2) * 60).astype(np.uint8))
    data = None


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root with `my-model/` (a model folder to import), `scene.tif` and the engine's store."""
    root = tmp_path_factory.mktemp("models")
    (root / "my-model").mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy2(DEMO_MODEL / name, root / "my-model" / name)
    write_scene(root / "scene.tif")
    return root


@pytest.fixture(scope="module")
def engine(samscape_command: str, root: Path):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SAMSCAPE_HOME", str(root / "store"))
        env.setenv("HF_HUB_OFFLINE", "1")
        engine = Engine(EngineSettings(command=samscape_command), roots=[str(root)])
        ready = Recorder(engine.ready)
        engine.start()
        ready.wait(90)
        yield engine
        engine.stop(wait=True)


@pytest.fixture
def dock(iface, engine: Engine):
    dock = SamscapeDock(engine, iface.mapCanvas(), iface.mainWindow())
    iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.show()
    dock.resize(400, dock.height())
    yield dock
    if dock.models_dialog is not None:
        dock.models_dialog.close()
    dock.close_segmentation()
    dock.deleteLater()


def opened(dock: SamscapeDock) -> ModelsDialog:
    """The dialog, opened with the dock's Models… button, once it has listed the models."""
    dock.models_button.click()
    dialog = dock.models_dialog
    assert dialog is not None and dialog.isVisible()
    settled(dialog)
    assert dialog.models, dialog.status.text()
    return dialog


def row(dialog: ModelsDialog, model_id: str) -> QTreeWidgetItem:
    items = dialog.table.findItems(model_id, Qt.MatchFlag.MatchExactly, 0)
    assert len(items) == 1, f"{model_id} is listed {len(items)} times"
    return items[0]


def texts(item: QTreeWidgetItem) -> list[str]:
    return [item.text(column) for column in range(item.columnCount())]


def settled(dialog: ModelsDialog, timeout_s: float = 60) -> None:
    """Wait until the dialog's action is answered and the list read again."""
    wait_until(lambda: not (dialog.busy or dialog.listing), timeout_s, f"still busy: {dialog.status.text()}")


def answer(reply: Reply) -> Reply:
    wait_until(lambda: reply.done, 60, f"{reply.what}: no answer")
    assert reply.ok, reply.error
    return reply


def test_without_a_running_engine_the_dialog_says_how_to_start_it(samscape_command: str) -> None:
    dialog = ModelsDialog(Engine(EngineSettings(command=samscape_command)))
    assert dialog.status.text().startswith("the samscape engine is not running; start it")
    assert not any(b.isEnabled() for b in (dialog.download_button, dialog.remove_button,
                                           dialog.import_button, dialog.refresh_button))
    dialog.deleteLater()


def test_the_list_shows_the_bundled_demo_model_installed(dock: SamscapeDock, screenshots: Path) -> None:
    dialog = opened(dock)
    demo = texts(row(dialog, "demo"))
    assert demo[:3] == ["demo", "SAM", "built-in"]
    assert demo[3].endswith(" MB") and 5 < float(demo[3].split()[0]) < 8
    assert texts(row(dialog, "sam2.1-hiera-tiny"))[1:4] == ["SAM 2", "not downloaded", "–"]
    assert texts(row(dialog, "tiny-random-sam"))[4].endswith("[test model]")

    dialog.table.setCurrentItem(row(dialog, "demo"))
    assert not dialog.download_button.isEnabled() and not dialog.remove_button.isEnabled()
    assert dialog.details.text().startswith("samscape's demo model")
    dialog.table.setCurrentItem(row(dialog, "sam-vit-base"))
    assert dialog.download_button.isEnabled() and not dialog.remove_button.isEnabled()
    dialog.grab().save(str(screenshots / "models-list.png"))


def test_import_a_folder_then_remove_it_after_confirming(dock: SamscapeDock, root: Path,
                                                        screenshots: Path) -> None:
    dialog = opened(dock)
    assert dialog.row("my-sam") is None
    changed = Recorder(dialog.changed)
    dialog.import_folder.setFilePath(str(root / "my-model"))
    dialog.import_id.setText("my-sam")
    dialog.import_button.click()
    assert dialog.busy and not dialog.import_button.isEnabled() and dialog.progress.isVisible()
    settled(dialog)
    assert dialog.status.text() == "imported my-sam" and changed.calls
    assert texts(row(dialog, "my-sam"))[:3] == ["my-sam", "SAM", "imported"]
    assert dialog.current_id() == "my-sam" and dialog.remove_button.isEnabled()
    assert not dialog.progress.isVisible()
    dialog.grab().save(str(screenshots / "models-imported.png"))

    dialog.import_button.click()  # the same id again: the engine's one line, nothing changes
    settled(dialog)
    assert "already in the store" in dialog.status.text() and "\n" not in dialog.status.text()

    dialog.remove_button.click()
    box = dialog.confirmation
    assert box is not None and box.isVisible() and "my-sam" in box.text()
    box.grab().save(str(screenshots / "models-confirm-remove.png"))
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_until(lambda: dialog.confirmation is None, 5)
    assert not dialog.busy and dialog.row("my-sam") is not None

    dialog.remove_button.click()
    dialog.confirmation.button(QMessageBox.StandardButton.Yes).click()
    settled(dialog)
    assert dialog.status.text() == "removed my-sam" and dialog.row("my-sam") is None
    dialog.grab().save(str(screenshots / "models-removed.png"))


def test_a_download_without_internet_fails_in_one_line_and_the_dialog_recovers(
        dock: SamscapeDock, screenshots: Path) -> None:
    dialog = opened(dock)
    dialog.table.setCurrentItem(row(dialog, "sam2.1-hiera-tiny"))
    dialog.download_button.click()
    assert dialog.busy and dialog.progress.isVisible()
    assert not (dialog.download_button.isEnabled() or dialog.import_button.isEnabled())
    assert dialog.status.text() == "Downloading sam2.1-hiera-tiny…"
    dialog.grab().save(str(screenshots / "models-downloading.png"))
    settled(dialog)
    line = dialog.status.text()
    assert line.startswith("model 'sam2.1-hiera-tiny' is not on this machine and could not be downloaded")
    assert "HF_HUB_OFFLINE" in line and "samscape models import" in line and "\n" not in line
    assert not dialog.progress.isVisible() and dialog.download_button.isEnabled()
    assert dialog.import_button.isEnabled() and dialog.row("sam2.1-hiera-tiny")["status"] == "not downloaded"
    dialog.grab().save(str(screenshots / "models-download-failed.png"))


def test_load_a_folder_whose_model_is_missing_offers_to_import_it(dock: SamscapeDock, engine: Engine,
                                                                  root: Path, screenshots: Path) -> None:
    client = engine.client()
    answer(client.post("/api/models/import", {"path": str(root / "my-model"), "id": "my-sam"}))
    job = answer(client.post("/api/jobs/encode", {"raster": str(root / "scene.tif"), "model": "my-sam",
                                                  "out": str(root / "my-sam-features")})).data
    for _ in range(300):
        state = answer(client.get(f"/api/jobs/{job['id']}")).data
        if state["state"] != "running":
            break
        spin(0.2)
    assert state["state"] == "done", state["error"]
    answer(client.delete("/api/models/my-sam"))

    panel, session = dock.source_panel, dock.segmentation.session
    panel.folder.setFilePath(str(root / "my-sam-features"))
    panel.load_button.click()
    wait_until(lambda: session.idle, 30)
    assert session.source is None and panel.status.text() == missing_model_line("my-sam")
    assert panel.get_model_button.isVisible() and panel.get_model_button.text() == "Get model my-sam…"
    dock.parentWidget().grab().save(str(screenshots / "models-missing-offer.png"))

    panel.get_model_button.click()
    dialog = dock.models_dialog
    assert dialog.isVisible() and dialog.import_id.text() == "my-sam"
    wait_until(lambda: "my-sam" in dialog.status.text(), 30)
    assert dialog.status.text().startswith("model 'my-sam' is not in this engine's catalogue")
    dialog.grab().save(str(screenshots / "models-missing-import.png"))
    dialog.import_folder.setFilePath(str(root / "my-model"))
    dialog.import_button.click()
    settled(dialog)
    assert dialog.status.text() == "imported my-sam" and dialog.current_id() == "my-sam"
    wait_until(lambda: session.source is not None and session.idle, 60, panel.status.text())  # loads again
    assert session.source["model"] == "my-sam" and not panel.get_model_button.isVisible()
    spin(0.2)  # the dock's layout settles
    dock.parentWidget().grab().save(str(screenshots / "models-missing-then-loaded.png"))
