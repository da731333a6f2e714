"""The QGIS plugin as files: where its source is, installing it into a QGIS profile (copy or
link, with the engine command recorded and the plugin enabled in the profile's QGIS3.ini), and
the zip a QGIS plugin repository takes.

The plugin's source of truth is `qgis_plugin/samscape_qgis/` in the repository; the wheel ships
it as the top-level folder `samscape_qgis/` (pyproject.toml), found here in either place.
A profile's QGIS3.ini belongs to the user: only the lines of the keys written here change, every
other byte stays as it was, and the file is replaced atomically.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shlex
import shutil
import sys
import sysconfig
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import FolderConflictError, FolderWriteError, PluginInstallError

PLUGIN = "samscape_qgis"
QGIS_MIN = "3.22"
QGIS_MAX = "4.99"
ENGINE_KEY = ("samscape", "engine_command")  # QSettings "samscape/engine_command"
ENABLED_KEY = ("PythonPlugins", PLUGIN)
SKIPPED = ("__pycache__", "*.pyc", ".*")


def plugin_source() -> Path:
    """The plugin's folder: the repository's in a source checkout, else the installed wheel's."""
    checkout = Path(__file__).resolve().parents[1] / "qgis_plugin" / PLUGIN
    if (checkout / "metadata.txt").is_file():
        return checkout
    spec = importlib.util.find_spec(PLUGIN)  # finds the folder without running its __init__
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations)))
        if (installed / "metadata.txt").is_file():
            return installed
    raise PluginInstallError(f"the QGIS plugin's files ({PLUGIN}/metadata.txt) are not in this samscape "
                             "installation; reinstall it: pip install --force-reinstall samscape")


def read_metadata(folder: Path) -> dict[str, str]:
    """The [general] keys of a plugin's metadata.txt (case kept); empty if there is none."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string((folder / "metadata.txt").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error):
        return {}
    return dict(parser["general"]) if parser.has_section("general") else {}


def default_qgis_dir() -> Path:
    """QGIS 3's settings folder for this user (the one holding `profiles/`)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "QGIS" / "QGIS3"


def profile_dir(qgis_dir: Path, profile: str) -> Path:
    """The profile's folder; 'default' is created if QGIS has not yet made it, any other name must
    exist (a typo would otherwise make a new profile)."""
    if not profile or Path(profile).name != profile or profile in (".", ".."):
        raise PluginInstallError(f"'{profile}' is not a QGIS profile name; give one from "
                                 f"{qgis_dir / 'profiles'}")
    folder = qgis_dir / "profiles" / profile
    if not folder.is_dir() and profile != "default":
        known = sorted(p.name for p in (qgis_dir / "profiles").glob("*") if p.is_dir())
        raise PluginInstallError(f"no QGIS profile '{profile}' in {qgis_dir / 'profiles'} (there are: "
                                 f"{', '.join(known) or 'none'}); give one of them with --profile, or "
                                 "--qgis-dir for QGIS's settings folder")
    return folder


def engine_command() -> str:
    """The command that starts this samscape: its `samscape` script (the running one, else the
    one installed beside this Python), else `python -m samscape.cli.main` with this Python."""
    name = "samscape.exe" if sys.platform == "win32" else "samscape"
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    candidates = [running] if running is not None and running.name == name else []
    for scheme in (None, f"{os.name}_user"):
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidates.append(Path(scripts) / name)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate.absolute())
    return shlex.join([sys.executable, "-m", "samscape.cli.main"])


@dataclass(frozen=True, slots=True)
class Installed:
    """Where `install` put the plugin and what it recorded."""

    plugin: Path
    settings: Path
    engine_command: str
    linked: bool


def install(profile: str = "default", qgis_dir: Path | None = None, link: bool = False) -> Installed:
    """Copy (or symlink, for developers) the plugin into `profile`'s plugins folder, replacing
    only an earlier samscape plugin, then record the engine command and enable the plugin."""
    source = plugin_source()
    folder = profile_dir(Path(qgis_dir) if qgis_dir else default_qgis_dir(), profile)
    plugins = folder / "python" / "plugins"
    target = plugins / PLUGIN
    _check_ours(target, read_metadata(source).get("name", "samscape"))
    command = engine_command()
    try:
        plugins.mkdir(parents=True, exist_ok=True)
        _place(source, target, link)
    except OSError as exc:
        hint = " (on Windows, links need Developer Mode; install without --link)" if link else ""
        raise FolderWriteError(f"cannot write the plugin to '{target}': {exc.strerror or exc}{hint}; "
                               "check the folder's permissions or give --qgis-dir") from exc
    settings = folder / "QGIS" / "QGIS3.ini"
    set_ini_values(settings, {ENGINE_KEY: ini_string(command), ENABLED_KEY: "true"})
    return Installed(target, settings, command, link)


def _check_ours(target: Path, name: str) -> None:
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink() and not target.exists():  # a link to a checkout that moved
        if Path(os.readlink(target)).name == PLUGIN:
            return
    elif target.is_dir() and read_metadata(target).get("name") == name:
        return
    raise PluginInstallError(f"'{target}' is not samscape's plugin (no metadata.txt naming '{name}'); "
                             "move it away, then run 'samscape qgis install' again")


def _place(source: Path, target: Path, link: bool) -> None:
    """Put the new plugin in a hidden temporary beside `target`, then swap it in."""
    if link and target.is_symlink() and target.resolve() == source.resolve():
        return
    fresh = Path(tempfile.mkdtemp(prefix=f".{PLUGIN}-new-", dir=target.parent))
    old = fresh.with_name(f"{fresh.name}-old")
    moved = False
    try:
        if link:
            fresh.rmdir()
            os.symlink(source.resolve(), fresh, target_is_directory=True)
        else:
            shutil.copytree(source, fresh, ignore=shutil.ignore_patterns(*SKIPPED), dirs_exist_ok=True)
        if target.exists() or target.is_symlink():
            os.rename(target, old)
            moved = True
        os.rename(fresh, target)
    except BaseException:
        if moved and not (target.exists() or target.is_symlink()):
            os.rename(old, target)
            moved = False
        _remove(fresh)
        raise
    finally:
        if moved:
            _remove(old)


def _remove(path: Path) -> None:
    """Remove a link (never what it points to) or a folder."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def ini_string(value: str) -> str:
    """`value` as QSettings writes a string to an INI file (Qt 5 and 6 read it back): backslash
    escapes, non-ASCII as \\x escapes, quotes around a value with ; , = or edge spaces."""
    out = []
    escape_hex = False  # after a \x escape a hex digit must be escaped too
    for ch in ("@" + value if value.startswith("@") else value):
        if escape_hex and ch in "0123456789abcdefABCDEF":
            out.append(f"\\x{ord(ch):x}")
            continue
        escape_hex = False
        if ch in "\"\\":
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ord(ch) < 0x20 or ord(ch) >= 0x7F:
            out.append(f"\\x{ord(ch):x}")
            escape_hex = True
        else:
            out.append(ch)
    text = "".join(out)
    if any(c in value for c in ";,=") or text.startswith(" ") or text.endswith(" "):
        text = f'"{text}"'
    return text


def set_ini_values(path: Path, values: dict[tuple[str, str], str]) -> None:
    """Set `(section, key) → raw value` lines in an INI file, creating it if needed; every other
    byte is kept, and the file is replaced atomically (a temporary beside it, then a rename)."""
    try:
        original = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise FolderWriteError(f"cannot read QGIS's settings '{path}': {exc.strerror}; check its "
                               "permissions") from exc
    text = original.decode("latin-1")  # byte for byte, whatever the file's encoding
    for (section, key), value in values.items():
        text = ini_with(text, section, key, value)
    _write_atomically(path, text.encode("latin-1"))


def ini_with(text: str, section: str, key: str, value: str) -> str:
    """`text` with `key=value` in `[section]`: the key's lines replaced, else a line added at the
    end of the section, else the section appended."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = re.findall(r"[^\n]*\n|[^\n]+\Z", text)  # not splitlines: a latin-1 \x85 is no line end
    headers = [i for i, line in enumerate(lines) if line.strip()[:1] == "[" and line.strip()[-1:] == "]"]
    start = next((i for i in headers if lines[i].strip()[1:-1] == section), None)
    if start is None:
        head = text if not text or text.endswith(("\n", "\r")) else text + newline
        gap = newline if head.strip() else ""
        return f"{head}{gap}[{section}]{newline}{key}={value}{newline}"
    end = next((i for i in headers if i > start), len(lines))
    hits = [i for i in range(start + 1, end) if _key_of(lines[i]) == key]
    for i in hits:
        ending = lines[i][len(lines[i].rstrip("\r\n")):]
        lines[i] = f"{key}={value}{ending or newline}"
    if not hits:
        last = max((i for i in range(start, end) if lines[i].strip()), default=start)
        if not lines[last].endswith(("\n", "\r")):
            lines[last] += newline
        lines.insert(last + 1, f"{key}={value}{newline}")
    return "".join(lines)


def _key_of(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped[0] in ";#" or "=" not in stripped:
        return None
    return stripped.split("=", 1)[0].strip()


def _write_atomically(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if path.exists():
                shutil.copymode(path, name)
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FolderWriteError(f"cannot write QGIS's settings '{path}': {exc.strerror or exc}; check "
                               "the folder's permissions") from exc


def package(out: Path | None = None, overwrite: bool = False) -> Path:
    """The zip a QGIS plugin repository takes: top folder `samscape_qgis/`, no caches; its
    metadata must declare QGIS 3.22 to 4.99, an icon and a LICENSE beside it."""
    source = plugin_source()
    meta = check_metadata(source)
    out = Path(out) if out is not None else Path.cwd() / f"{PLUGIN}-{meta['version']}.zip"
    if out.exists() and not overwrite:
        raise FolderConflictError(f"'{out}' already exists; give another --out or add --overwrite")
    files = sorted(p for p in source.rglob("*") if p.is_file() and not _skipped(p.relative_to(source)))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    archive.write(file, f"{PLUGIN}/{file.relative_to(source).as_posix()}")
            os.replace(name, out)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FolderWriteError(f"cannot write '{out}': {exc.strerror or exc}; give another --out") from exc
    return out


def _skipped(relative: Path) -> bool:
    return any(part == "__pycache__" or part.startswith(".") for part in relative.parts) or \
        relative.suffix == ".pyc"


def check_metadata(source: Path) -> dict[str, str]:
    """The plugin's metadata, checked for what a QGIS plugin repository and this project need."""
    meta = read_metadata(source)
    fix = f"fix {source / 'metadata.txt'}"
    required = ("name", "version", "description", "about", "author", "email", "repository", "icon")
    missing = [key for key in required if not meta.get(key)]
    if missing:
        raise PluginInstallError(f"the plugin's metadata.txt lacks {', '.join(missing)}; {fix}")
    for key, wanted in (("qgisMinimumVersion", QGIS_MIN), ("qgisMaximumVersion", QGIS_MAX)):
        if meta.get(key) != wanted:
            raise PluginInstallError(f"the plugin's metadata.txt has {key}={meta.get(key, '(none)')}, "
                                     f"not {wanted}; {fix}")
    for needed in (meta["icon"], "LICENSE"):
        if not (source / needed).is_file():
            raise PluginInstallError(f"the plugin has no {needed} in {source}; add it, then package again")
    return meta
