"""The wheel `pip install samscape` gets carries the QGIS plugin, and an installed samscape finds it
for `samscape qgis install` and `samscape qgis package`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "qgis_plugin" / "samscape_qgis"


def test_the_wheel_ships_the_plugin_and_the_installed_cli_packages_it(tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ or egg-info; a stale cache must stay out.
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    for folder in ("samscape", "qgis_plugin"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "qgis_plugin" / "samscape_qgis" / "__pycache__").mkdir()
    (source / "qgis_plugin" / "samscape_qgis" / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"\0")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("samscape-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n.removeprefix("samscape_qgis/") for n in archive.namelist()
                         if n.startswith("samscape_qgis/"))
    expected = sorted(p.relative_to(PLUGIN).as_posix() for p in PLUGIN.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts)
    assert shipped == expected and "metadata.txt" in shipped

    # Installed (here into a folder first on the path), samscape finds the plugin beside itself.
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-m", "samscape.cli.main", "qgis", "package", "--out",
                           str(tmp_path / "plugin.zip")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    located = subprocess.run([sys.executable, "-c", "from samscape.qgis_install import plugin_source; "
                              "print(plugin_source())"], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=60)
    assert Path(located.stdout.strip()) == target / "samscape_qgis"
    with zipfile.ZipFile(tmp_path / "plugin.zip") as archive:
        assert sorted(n.removeprefix("samscape_qgis/") for n in archive.namelist()) == expected
