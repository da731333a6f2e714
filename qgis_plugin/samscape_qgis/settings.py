"""The plugin's settings: the one module that reads and writes them.

They live in the QGIS profile's settings file (`QGIS/QGIS3.ini` in the profile folder) under the
group `samscape`, so `samscape qgis install` can write `engine_command` there before QGIS starts:

    [samscape]
    engine_command=/home/me/venvs/sam/bin/samscape  (or a command line: python3 -m samscape.cli.main)
    engine_url=            (attach mode: the URL of an engine started by hand; empty: start one)
    engine_token=          (attach mode: the token that engine was given)
    extra_roots=           (folders the engine may also read and write, besides the defaults)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qgis.core import QgsSettings

GROUP = "samscape"
DEFAULT_COMMAND = "samscape"


@dataclass(frozen=True)
class EngineSettings:
    """How to reach the engine. `url` empty: start `command` (a path, or a name on PATH);
    `url` set: attach to the engine there with `token`."""

    command: str = DEFAULT_COMMAND
    url: str = ""
    token: str = ""
    extra_roots: tuple[str, ...] = field(default_factory=tuple)

    @property
    def attach(self) -> bool:
        return bool(self.url)


def _key(name: str) -> str:
    return f"{GROUP}/{name}"


def _text(settings: QgsSettings, name: str, default: str = "") -> str:
    value = settings.value(_key(name), default, section=QgsSettings.Section.NoSection)
    return str(value).strip() if value is not None else default


def _list(settings: QgsSettings, name: str) -> tuple[str, ...]:
    value = settings.value(_key(name), [], section=QgsSettings.Section.NoSection)
    if isinstance(value, str):
        value = [value] if value else []
    return tuple(str(v).strip() for v in (value or []) if str(v).strip())


def load() -> EngineSettings:
    """The engine settings as stored (defaults for what is not)."""
    settings = QgsSettings()
    return EngineSettings(command=_text(settings, "engine_command") or DEFAULT_COMMAND,
                          url=_text(settings, "engine_url").rstrip("/"),
                          token=_text(settings, "engine_token"),
                          extra_roots=_list(settings, "extra_roots"))


def save(engine: EngineSettings) -> None:
    """Store `engine` (every key, so a cleared value is cleared)."""
    settings = QgsSettings()
    section = QgsSettings.Section.NoSection
    settings.setValue(_key("engine_command"), engine.command, section=section)
    settings.setValue(_key("engine_url"), engine.url, section=section)
    settings.setValue(_key("engine_token"), engine.token, section=section)
    settings.setValue(_key("extra_roots"), list(engine.extra_roots), section=section)
