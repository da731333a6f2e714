"""The plugin as QGIS loads it (qgis.utils: classFactory, initGui, unload): its metadata, menu,
toolbar and dock, the engine started when the dock opens and stopped on unload, and failures
shown in the dock and QGIS's message bar."""

from __future__ import annotations

import configparser
import os
import re
import sys
from pathlib import Path

import pytest
import qgis.utils
from conftest import Recorder, wait_until
from qgis.core import QgsApplication
from qgis.PyQt.QtGui import QImage

PLUGINS = Path(__file__).resolve().parents[1]
PACKAGE = PLUGINS / "samscape_qgis"
NAME = "samscape_qgis"


def pyproject_version() -> str:
    text = (PLUGINS.parent / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def test_metadata_icon_and_licence() -> None:
    parser = configparser.ConfigParser()
    parser.read(PACKAGE / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email"):
        assert general.get(key, "").strip(), f"metadata.txt lacks {key}"
    assert general["name"] == "samscape" and general["version"] == pyproject_version()
    assert general["qgisMinimumVersion"] == "3.22" and general["qgisMaximumVersion"] == "4.99"
    assert general["experimental"] == "True" and general["supportsQt6"] == "True"
    assert general["repository"]
    icon = QImage(str(PACKAGE / general["icon"]))
    assert not icon.isNull() and (icon.width(), icon.height()) == (64, 64)
    assert (PACKAGE / "LICENSE").read_text().split()[:3] == ["Apache", "License", "Version"]

    sys.path.insert(0, os.path.join(QgsApplication.pkgDataPath(), "python"))
    from pyplugin_installer.version_compare import isCompatible

    assert isCompatible(qgis.utils.Qgis.QGIS_VERSION, "3.22", "4.99")
    assert isCompatible("4.0.0", "3.22", "4.99") and not isCompatible("3.16.0", "3.22", "4.99")


def test_plugin_imports_only_qgis_and_the_standard_library() -> None:
    assert (PACKAGE / "processing" / "provider.py").is_file()
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text().splitlines():
            found = re.match(r"\s*(?:from (\S+) import|import (\S+))", line)
            if found:
                top = (found.group(1) or found.group(2)).split(".")[0]
                assert top in ("", "qgis", "__future__") or top in sys.stdlib_module_names, \
                    f"{path.name}: {line.strip()}"


@pytest.fixture
def loaded(iface, samscape_command: str):
    """The plugin loaded as QGIS loads it, with the engine command in its settings."""
    from samscape_qgis import settings

    settings.save(settings.EngineSettings(command=samscape_command))
    qgis.utils.iface = iface
    if str(PLUGINS) not in qgis.utils.plugin_paths:
        qgis.utils.plugin_paths.append(str(PLUGINS))
    qgis.utils.updateAvailablePlugins()
    assert NAME in qgis.utils.available_plugins
    assert qgis.utils.pluginMetadata(NAME, "name") == "samscape"
    assert qgis.utils.loadPlugin(NAME) and qgis.utils.startPlugin(NAME)
    yield qgis.utils.plugins[NAME]
    if NAME in qgis.utils.active_plugins:
        qgis.utils.unloadPlugin(NAME)


def test_load_open_dock_engine_ready_unload(loaded, iface, screenshots: Path) -> None:
    plugin = loaded
    window = iface.mainWindow()
    titles = [a.text() for a in iface.menus["samscape"].actions()]
    assert titles == ["samscape", "Encoder Copilot…", "Models…", "Restart engine", "Settings…"]
    assert [a.text() for a in iface.toolbar.actions()] == ["samscape"]
    dock = plugin.dock
    assert dock.parent() is window and not dock.isVisible() and plugin.engine.state == "stopped"
    status = dock.findChild(type(dock.status), "engine_status")
    assert status.text().startswith("Stopped.")

    ready = Recorder(plugin.engine.ready)
    iface.toolbar.actions()[0].trigger()
    assert dock.isVisible() and plugin.engine.state == "starting"
    assert status.text() == "Starting the samscape engine…"
    (url,) = ready.wait(90)
    assert status.text() == f"samscape {plugin.engine.version} running at {url}"
    assert not iface.messageBar().items()
    dock.grab().save(str(screenshots / "engine-ready-dock.png"))
    window.grab().save(str(screenshots / "engine-ready-window.png"))
    next(a for a in iface.menus["samscape"].actions() if a.objectName() == "samscape_models").trigger()
    assert dock.models_dialog is not None and dock.models_dialog.isVisible()
    wait_until(lambda: dock.models_dialog.row("demo") is not None, 30, dock.models_dialog.status.text())
    pid = plugin.engine.pid

    assert qgis.utils.unloadPlugin(NAME)
    assert not Path(f"/proc/{pid}").exists(), "the engine outlived the plugin"
    assert iface.menus["samscape"].actions() == [] and iface.toolbar.actions() == []
    wait_until(lambda: window.findChild(type(dock), "samscape_dock") is None, 5, "the dock is still there")


def test_missing_command_in_dock_and_message_bar_then_fixed(loaded, iface, samscape_command: str,
                                                            tmp_path: Path, screenshots: Path) -> None:
    from samscape_qgis import settings

    plugin = loaded
    missing = str(tmp_path / "env" / "bin" / "samscape")
    settings.save(settings.EngineSettings(command=missing))
    failed = Recorder(plugin.engine.failed)
    plugin.show_dock()
    (message,) = failed.wait(5)
    assert message.startswith(f"samscape not found at {missing};")
    assert plugin.dock.status.text() == message
    items = iface.messageBar().items()
    assert len(items) == 1 and items[0].text() == message
    plugin.dock.grab().save(str(screenshots / "engine-missing-dock.png"))

    settings.save(settings.EngineSettings(command=samscape_command))
    ready = Recorder(plugin.engine.ready)
    plugin.dock.restart_button.click()
    ready.wait(90)
    assert plugin.dock.status.text().startswith("samscape ")
    assert plugin.engine.settings.command == samscape_command


def test_settings_round_trip_and_dialog(iface, screenshots: Path) -> None:
    from samscape_qgis import settings
    from samscape_qgis.settings_dialog import SettingsDialog

    stored = settings.EngineSettings(command="/opt/sam/bin/samscape", url="http://127.0.0.1:9999",
                                     token="t0k", extra_roots=("/data", "/mnt/imagery"))
    settings.save(stored)
    assert settings.load() == stored
    dialog = SettingsDialog(settings.load(), iface.mainWindow())
    assert dialog.value() == stored
    dialog.grab().save(str(screenshots / "settings-dialog.png"))
    dialog.url.setText("")
    dialog.roots.setPlainText("/data\n\n  /srv/x  \n")
    dialog.command.setFilePath("")
    edited = dialog.value()
    assert edited == settings.EngineSettings(command="samscape", url="", token="t0k",
                                             extra_roots=("/data", "/srv/x"))
    assert not edited.attach and stored.attach
    settings.save(edited)
    assert settings.load() == edited
