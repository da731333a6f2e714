"""`samscape qgis install` and `samscape qgis package` on real folders, a real QGIS3.ini read
back by QGIS's own QSettings, and a real zip."""

from __future__ import annotations

import configparser
import filecmp
import json
import os
import shlex
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import samscape
from samscape.cli.main import cli
from samscape.qgis_install import plugin_source

QGIS_PYTHON = os.environ.get("SAMSCAPE_QGIS_PYTHON", "/usr/bin/python3")  # Debian's, with python3-qgis
SOURCE = plugin_source()

# A profile's settings as QGIS writes them: other sections, QSettings escapes, raw UTF-8, a
# [PythonPlugins] section followed by others, no newline at the end.
THEIRS = (
    "[General]\n"
    "locale\\userLocale=fr_FR\n"
    "\n"
    "[PythonPlugins]\n"
    "processing=true\n"
    "quick_map_services=false\n"
    "\n"
    "[qgis]\n"
    "digitizing\\line_color=@Variant(\\0\\0\\0\\x43\\x1\\xff\\xff\\xff\\xff\\0\\0\\0\\0\\0\\0)\n"
    "lastProjectDir=/home/z\\xf6e/Cart\\xe9s \\\"2024\\\"\n"
    "recent=Zo\u00eb;x,y=z\n"
    "\n"
    "[Windows]\n"
    "geometry=@ByteArray(\\x1\\xd9\\xd0\\xcb\\0\\x3)"
).encode("utf-8")


def _run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def _profile(tmp_path: Path, ini: bytes | None = THEIRS) -> Path:
    folder = tmp_path / "QGIS3" / "profiles" / "default"
    (folder / "QGIS").mkdir(parents=True)
    if ini is not None:
        (folder / "QGIS" / "QGIS3.ini").write_bytes(ini)
    return folder


def _qsettings(ini: Path) -> dict:
    """What QGIS reads from `ini` (QSettings in Debian's QGIS Python)."""
    script = ("import json, sys; from qgis.PyQt.QtCore import QSettings; "
              "from qgis.PyQt.QtGui import QColor; "
              "s = QSettings(sys.argv[1], QSettings.IniFormat); "
              "shown = lambda v: v.name(QColor.HexArgb) if isinstance(v, QColor) else bytes(v).hex(); "
              "print(json.dumps({k: s.value(k) for k in s.allKeys()}, default=shown))")
    done = subprocess.run([QGIS_PYTHON, "-c", script, str(ini)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b, ignore=["__pycache__"])
    return (not compared.left_only and not compared.right_only and not compared.diff_files
            and all(_same_tree(a / d, b / d) for d in compared.common_dirs))


def test_install_copies_the_plugin_records_the_engine_and_keeps_every_other_byte(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    code, out = _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3")
    assert code == 0, out
    plugin = profile / "python" / "plugins" / "samscape_qgis"
    assert not plugin.is_symlink() and _same_tree(SOURCE, plugin)
    assert str(plugin) in out and "start QGIS" in out and len(out.strip().splitlines()) == 2

    ini = profile / "QGIS" / "QGIS3.ini"
    written = ini.read_bytes()
    before, after = THEIRS.split(b"quick_map_services=false\n")
    assert written.startswith(before + b"quick_map_services=false\nsamscape_qgis=true\n" + after)
    assert written.endswith(b"\n\n[samscape]\nengine_command=" + written.rsplit(b"=", 1)[1])
    (tmp_path / "theirs.ini").write_bytes(THEIRS)
    settings = _qsettings(ini)
    assert settings.pop("PythonPlugins/samscape_qgis") == "true"
    command = settings.pop("samscape/engine_command")
    assert settings == _qsettings(tmp_path / "theirs.ini")  # QGIS reads every other value as before
    # The recorded command starts this samscape.
    assert f"engine command: {command}" in out
    version = subprocess.run([*shlex.split(command), "--version"], capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and samscape.__version__ in version.stdout

    # Again: the same files, the same settings bytes.
    assert _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3")[0] == 0
    assert ini.read_bytes() == written and _same_tree(SOURCE, plugin)
    assert sorted(p.name for p in plugin.parent.iterdir()) == ["samscape_qgis"]  # no temporaries left


def test_an_earlier_engine_command_is_replaced_in_place(tmp_path: Path) -> None:
    ours = (b"[General]\r\nfoo=1\r\n\r\n[samscape]\r\nengine_command=/old/venv/bin/samscape\r\n"
            b"point_size=8\r\n\r\n[PythonPlugins]\r\nsamscape_qgis=false\r\n")
    profile = _profile(tmp_path, ours)
    assert _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3")[0] == 0
    written = (profile / "QGIS" / "QGIS3.ini").read_bytes()
    command = _qsettings(profile / "QGIS" / "QGIS3.ini")["samscape/engine_command"]
    assert command != "/old/venv/bin/samscape"
    assert written.replace(b"samscape_qgis=true", b"samscape_qgis=false").replace(
        written.split(b"engine_command=")[1].split(b"\r\n")[0], b"/old/venv/bin/samscape") == ours


def test_a_profile_never_started_gets_its_settings_file(tmp_path: Path) -> None:
    assert _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3")[0] == 0
    settings = _qsettings(tmp_path / "QGIS3" / "profiles" / "default" / "QGIS" / "QGIS3.ini")
    assert settings["PythonPlugins/samscape_qgis"] == "true" and settings["samscape/engine_command"]


def test_link_then_copy_replaces_the_link_not_the_source(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    plugin = profile / "python" / "plugins" / "samscape_qgis"
    code, out = _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3", "--link")
    assert code == 0 and "linked" in out
    assert plugin.is_symlink() and plugin.resolve() == SOURCE.resolve()
    assert _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3", "--link")[0] == 0
    assert plugin.is_symlink()
    assert _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3")[0] == 0
    assert not plugin.is_symlink() and _same_tree(SOURCE, plugin)
    assert (SOURCE / "metadata.txt").is_file()


def test_another_plugin_in_the_way_is_refused_and_left_alone(tmp_path: Path) -> None:
    profile = _profile(tmp_path)
    foreign = profile / "python" / "plugins" / "samscape_qgis"
    foreign.mkdir(parents=True)
    (foreign / "metadata.txt").write_text("[general]\nname=Someone else's\n")
    (foreign / "work.py").write_text("precious = True\n")
    code, out = _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3")
    assert code == 1 and out.count("\n") == 1 and "not samscape's plugin" in out and "move it away" in out
    assert sorted(p.name for p in foreign.iterdir()) == ["metadata.txt", "work.py"]
    assert (profile / "QGIS" / "QGIS3.ini").read_bytes() == THEIRS


def test_an_unknown_profile_names_the_ones_there(tmp_path: Path) -> None:
    _profile(tmp_path)
    code, out = _run("qgis", "install", "--qgis-dir", tmp_path / "QGIS3", "--profile", "defualt")
    assert code == 1 and out.count("\n") == 1 and "no QGIS profile 'defualt'" in out and "default" in out
    assert not (tmp_path / "QGIS3" / "profiles" / "defualt").exists()


def test_package_writes_the_repository_zip_and_never_overwrites(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cache = SOURCE / "__pycache__"
    made = not cache.exists()
    cache.mkdir(exist_ok=True)
    (cache / "stale.cpython-311.pyc").write_bytes(b"\0")
    try:
        code, out = _run("qgis", "package")
    finally:
        (cache / "stale.cpython-311.pyc").unlink()
        if made:
            cache.rmdir()
    assert code == 0, out
    meta = configparser.ConfigParser(interpolation=None)
    meta.optionxform = str
    meta.read(SOURCE / "metadata.txt")
    general = meta["general"]
    out_zip = tmp_path / f"samscape_qgis-{general['version']}.zip"
    assert str(out_zip) in out
    with zipfile.ZipFile(out_zip) as archive:
        names = archive.namelist()
        packed = configparser.ConfigParser(interpolation=None)
        packed.optionxform = str
        packed.read_string(archive.read("samscape_qgis/metadata.txt").decode())
    expected = sorted(f"samscape_qgis/{p.relative_to(SOURCE).as_posix()}" for p in SOURCE.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts)
    assert sorted(names) == expected
    assert {"samscape_qgis/__init__.py", "samscape_qgis/LICENSE",
            f"samscape_qgis/{general['icon']}"} <= set(names)
    assert packed["general"]["qgisMinimumVersion"] == "3.22"
    assert packed["general"]["qgisMaximumVersion"] == "4.99"

    before = out_zip.read_bytes()
    code, out = _run("qgis", "package")
    assert code == 1 and "already exists" in out and "--overwrite" in out and out_zip.read_bytes() == before
    assert _run("qgis", "package", "--overwrite")[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [out_zip.name]  # no temporary left


@pytest.mark.parametrize("line, problem", [("qgisMaximumVersion=3.99", "qgisMaximumVersion=3.99, not 4.99"),
                                           ("qgisMinimumVersion=3.16", "qgisMinimumVersion=3.16, not 3.22")])
def test_package_refuses_metadata_without_the_qgis_range(tmp_path: Path, line: str, problem: str) -> None:
    """On a copy of the plugin, run by the module that `samscape qgis package` runs."""
    from samscape import qgis_install
    from samscape.errors import PluginInstallError

    copy = tmp_path / "samscape_qgis"
    copy.mkdir()
    for file in SOURCE.iterdir():
        if file.is_file():
            (copy / file.name).write_bytes(file.read_bytes())
    key = line.split("=")[0]
    text = (copy / "metadata.txt").read_text()
    lines = [line if entry.startswith(f"{key}=") else entry for entry in text.splitlines()]
    (copy / "metadata.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(PluginInstallError, match=problem):
        qgis_install.check_metadata(copy)
