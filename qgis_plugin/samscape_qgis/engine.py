"""The connection to the samscape engine, a separate process, so no torch ever loads into QGIS.

Either the plugin starts `samscape serve --port 0 --root R ...` itself, with a fresh token passed
only through the environment (`SAMSCAPE_TOKEN`, which `ps` does not show), and waits for the
line `SAMSCAPE_READY {"url": ..., "port": ..., "version": ..., "api": 1}` on its stdout; or it
attaches to an engine started by hand (URL and token from the settings) after asking its
`/api/health`. The engine's stdout and stderr go to QGIS's log panel (tab "samscape"), the
token blanked out.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
from collections.abc import Iterable

from qgis.core import Qgis, QgsMessageLog, QgsProcessingUtils, QgsProject
from qgis.PyQt.QtCore import QDir, QObject, QProcess, QProcessEnvironment, QTimer, pyqtSignal

from .client import Client, Reply, one_line
from .settings import EngineSettings

API = 1
READY = "SAMSCAPE_READY "
START_TIMEOUT_MS = 120_000  # the first start of a fresh environment imports torch and may be slow
STOP_GRACE_MS = 5_000
LOG_TAG = "samscape"

STOPPED, STARTING, RUNNING, FAILED = "stopped", "starting", "ready", "failed"


def resolve_program(program: str) -> str | None:
    """The executable `program` names (a path, or a name looked up on PATH), or None."""
    program = os.path.expanduser(program.strip())
    if not program:
        return None
    if os.sep in program or (os.altsep and os.altsep in program):
        return program if os.path.isfile(program) and os.access(program, os.X_OK) else None
    return shutil.which(program)


def command_line(command: str) -> list[str] | None:
    """The program and leading arguments of the engine `command`: a path or name (spaces in a
    path need no quotes), or a shell-quoted command line such as `/usr/bin/python3 -m
    samscape.cli.main`; None when its program is not found."""
    whole = resolve_program(command)
    if whole is not None:
        return [whole]
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    program = resolve_program(words[0]) if len(words) > 1 else None
    return [program, *words[1:]] if program is not None else None


def not_found(command: str) -> str:
    where = command if (os.sep in command or "/" in command) else f"'{command}' (not on QGIS's PATH)"
    return (f"samscape not found at {where}; install samscape (pip install samscape) and set its path "
            f"in samscape settings, or run `samscape qgis install` again")


def api_problem(info: object) -> str | None:
    """Why an engine describing itself as `info` (the ready line's or /api/health's JSON) cannot
    serve this plugin, or None when its API is the one the plugin speaks."""
    if not isinstance(info, dict):
        return "the samscape engine did not describe itself; run: pip install -U samscape"
    version, api = info.get("version", "?"), info.get("api")
    if not isinstance(api, int) or api < API:
        return f"samscape {version} is too old for this plugin; run: pip install -U samscape"
    if api > API:
        return (f"samscape {version} is newer than this plugin (engine API {api}, plugin API {API}); "
                f"update the plugin: run `samscape qgis install`")
    return None


def default_roots(extra: Iterable[str] = ()) -> list[str]:
    """The folders the engine may read and write: the user's home (where data and outputs
    usually live), the project's folder, the temporary folders (QGIS's Processing outputs,
    exported layers) and `extra` (other data drives, from the settings); nested ones dropped."""
    candidates = [QDir.homePath(), QgsProject.instance().homePath(), QDir.tempPath(),
                  QgsProcessingUtils.tempFolder(), *extra]
    folders: list[str] = []
    for path in candidates:
        if path and os.path.isdir(path):
            real = os.path.realpath(path)
            if real not in folders:
                folders.append(real)
    return [p for p in folders if not any(p != q and _inside(p, q) for q in folders)]


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # different drives
        return False


def log(message: str, level: Qgis.MessageLevel = Qgis.MessageLevel.Info) -> None:
    QgsMessageLog.logMessage(message, LOG_TAG, level)


class Engine(QObject):
    """The engine's lifecycle: `start()`, `stop()`, `restart()`; `state` is one of stopped,
    starting, ready, failed. Signals: `starting()`, `ready(url)`, `failed(message)` (one line
    with the fix), `stopped()` (after `stop()`). An engine started by the plugin that dies while
    ready is restarted automatically once; `restart()` (on demand) allows it once more."""

    starting = pyqtSignal()
    ready = pyqtSignal(str)
    failed = pyqtSignal(str)
    stopped = pyqtSignal()

    def __init__(self, settings: EngineSettings, roots: Iterable[str] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.roots = list(roots) if roots is not None else None
        self.start_timeout_ms = START_TIMEOUT_MS
        self.state = STOPPED
        self.url = ""
        self.token = ""
        self.version = ""
        self.message = ""
        self._process: QProcess | None = None
        self._stdout = b""
        self._last_stderr = ""
        self._stopping = False
        self._restart_when_stopped = False
        self._auto_restarts = 1
        self._health: Reply | None = None
        self._start_timer = QTimer(self, singleShot=True, timeout=self._start_timed_out)
        self._kill_timer = QTimer(self, singleShot=True, timeout=self._kill)

    @property
    def pid(self) -> int | None:
        """The engine's process id while the plugin runs one."""
        return int(self._process.processId()) if self._process is not None else None

    def client(self) -> Client | None:
        """A client for the engine while it is ready, else None."""
        return Client(self.url, self.token) if self.state == RUNNING else None

    def start(self) -> None:
        """Start or attach (nothing when already starting or ready)."""
        if self.state in (STARTING, RUNNING) or self._process is not None:
            return
        self._stopping = False
        if self.settings.attach:
            self._attach()
        else:
            self._spawn()

    def restart(self) -> None:
        """Stop the engine if running, then start it again (new settings apply)."""
        self._auto_restarts = 1
        if self._process is not None:
            self._restart_when_stopped = True
            self.stop()
        else:
            self.state = STOPPED
            self.start()

    def stop(self, wait: bool = False) -> None:
        """Stop the engine the plugin started: terminate, then kill after a few seconds. `wait`:
        return only when it is gone (for QGIS closing). An attached engine is left running."""
        self._stopping = True
        self._start_timer.stop()
        health, self._health = self._health, None
        if health is not None:
            health.abort()
        process = self._process
        if process is None:
            if self.state != STOPPED:
                self.state = STOPPED
                self.stopped.emit()
            return
        process.terminate()
        if not wait:
            self._kill_timer.start(STOP_GRACE_MS)
        elif not process.waitForFinished(STOP_GRACE_MS):
            process.kill()
            process.waitForFinished(STOP_GRACE_MS)

    # the plugin's own engine

    def _spawn(self) -> None:
        command = command_line(self.settings.command)
        if command is None:
            self._fail(not_found(self.settings.command))
            return
        program, leading = command[0], command[1:]
        self.token = secrets.token_urlsafe(32)
        self.url = ""
        self._stdout, self._last_stderr = b"", ""
        env = QProcessEnvironment.systemEnvironment()
        env.insert("SAMSCAPE_TOKEN", self.token)
        env.insert("PYTHONUNBUFFERED", "1")
        process = QProcess(self)
        process.setProcessEnvironment(env)
        process.setWorkingDirectory(QDir.homePath())
        process.setProgram(program)
        roots = self.roots if self.roots is not None else default_roots(self.settings.extra_roots)
        arguments = [*leading, "serve", "--port", "0", "--stop-on-eof"]  # ends with QGIS, crash or not
        for root in roots:
            arguments += ["--root", root]
        process.setArguments(arguments)
        process.readyReadStandardOutput.connect(lambda: self._read_stdout(process))
        process.readyReadStandardError.connect(lambda: self._read_stderr(process))
        process.finished.connect(lambda code, status: self._finished(process, code, status))
        process.errorOccurred.connect(lambda error: self._error(process, error))
        self._process = process
        self._set_starting()
        log(f"starting {program} {' '.join(arguments)}")
        self._start_timer.start(self.start_timeout_ms)
        process.start()

    def _read_stdout(self, process: QProcess) -> None:
        self._stdout += bytes(process.readAllStandardOutput())
        *lines, self._stdout = self._stdout.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if line.startswith(READY) and process is self._process and self.state == STARTING:
                self._ready_line(line[len(READY):])
            elif line.strip():
                log(line.replace(self.token, "TOKEN") if self.token else line)

    def _read_stderr(self, process: QProcess) -> None:
        text = bytes(process.readAllStandardError()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                log(line.replace(self.token, "TOKEN") if self.token else line, Qgis.MessageLevel.Warning)
                if process is self._process:
                    self._last_stderr = line.strip()

    def _ready_line(self, text: str) -> None:
        try:
            info = json.loads(text)
        except ValueError:
            info = None
        problem = api_problem(info)
        if problem is None and not str(info.get("url", "")).startswith("http"):
            problem = (f"samscape printed a ready line without a URL ({one_line(text, 120)}); "
                       f"run: pip install -U samscape")
        if problem is not None:
            self._fail(problem)
            self._kill()
            return
        self._start_timer.stop()
        self._set_ready(str(info["url"]).rstrip("/"), str(info.get("version", "")))

    def _start_timed_out(self) -> None:
        if self.state != STARTING or self._process is None:
            return
        seconds = round(self.start_timeout_ms / 1000)
        last = f" (last message: {one_line(self._last_stderr, 160)})" if self._last_stderr else ""
        self._fail(f"samscape serve did not report ready within {seconds} s{last}; run "
                   f"`{self.settings.command} serve --port 0` in a terminal to see why (samscape older "
                   f"than this plugin never reports ready: pip install -U samscape)")
        self._kill()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()

    def _error(self, process: QProcess, error: QProcess.ProcessError) -> None:
        if process is not self._process or error != QProcess.ProcessError.FailedToStart:
            return  # the other errors (a crash, a failed read) are followed by `finished`
        self._forget(process)
        self._fail(not_found(self.settings.command) + f" ({one_line(process.errorString(), 120)})")

    def _finished(self, process: QProcess, code: int, status: QProcess.ExitStatus) -> None:
        if process is not self._process:
            return
        self._read_stdout(process)
        self._read_stderr(process)
        self._forget(process)
        how = f"exit code {code}" if status == QProcess.ExitStatus.NormalExit else "crashed or killed"
        last = f": {one_line(self._last_stderr, 200)}" if self._last_stderr else ""
        if self._stopping:
            self.state, self.url = STOPPED, ""
            self.stopped.emit()
            if self._restart_when_stopped:
                self._restart_when_stopped = False
                self.start()
        elif self.state == STARTING:
            self._fail(f"samscape serve exited before it was ready ({how}){last}; run "
                       f"`{self.settings.command} serve --port 0` in a terminal to see why")
        elif self.state == RUNNING and self._auto_restarts > 0:
            self._auto_restarts -= 1
            self._fail(f"the samscape engine stopped ({how}){last}; restarting it")
            self._spawn()
        elif self.state == RUNNING:
            self._fail(f"the samscape engine stopped again ({how}){last}; restart it from the samscape "
                       f"menu (Restart engine) and see the samscape tab of the log panel")

    def _forget(self, process: QProcess) -> None:
        self._start_timer.stop()
        self._kill_timer.stop()
        self._process = None
        process.deleteLater()

    # an engine started by hand

    def _attach(self) -> None:
        self.url, self.token = self.settings.url.rstrip("/"), self.settings.token
        self._set_starting()
        self._health = Client(self.url, self.token).get("/api/health").then(self._attached)

    def _attached(self, reply: Reply) -> None:
        if reply is not self._health:
            return
        self._health = None
        problem = reply.error or api_problem(reply.data)
        if problem is not None:
            self._fail(problem)
        else:
            self._set_ready(self.url, str(reply.data.get("version", "")))

    # states

    def _set_starting(self) -> None:
        self.state, self.message = STARTING, ""
        self.starting.emit()

    def _set_ready(self, url: str, version: str) -> None:
        self.state, self.url, self.version, self.message = RUNNING, url, version, ""
        log(f"samscape {version} ready at {url}")
        self.ready.emit(url)

    def _fail(self, message: str) -> None:
        self.state, self.message = FAILED, message
        log(message, Qgis.MessageLevel.Critical)
        self.failed.emit(message)
