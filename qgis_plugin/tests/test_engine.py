"""The engine connection with a real `samscape serve`: start, ready line, token, stop, restart
after it is killed, a missing command, an engine that exits before it is ready, attach mode."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Recorder, wait_until
from qgis.core import QgsApplication

from samscape_qgis.client import Client
from samscape_qgis.engine import Engine, api_problem, command_line, default_roots, not_found
from samscape_qgis.settings import EngineSettings

START_S = 90  # a cold start on a busy 2-core machine; a warm one takes about 3 s


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, ended but not reaped by its new parent, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def answer(client: Client, path: str = "/api/health"):
    reply = client.get(path)
    wait_until(lambda: reply.done, 20, f"no answer to {path}")
    return reply


@pytest.fixture
def engine(samscape_command: str, tmp_path: Path):
    engine = Engine(EngineSettings(command=samscape_command), roots=[str(tmp_path)])
    yield engine
    engine.stop(wait=True)


def test_start_ready_token_and_stop(engine: Engine) -> None:
    ready, stopped = Recorder(engine.ready), Recorder(engine.stopped)
    logged = Recorder(QgsApplication.messageLog().messageReceived)
    engine.start()
    assert engine.state == "starting"
    (url,) = ready.wait(START_S)
    assert url.startswith("http://127.0.0.1:") and engine.state == "ready" and engine.url == url
    pid = engine.pid
    assert pid is not None and alive(pid)
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert engine.token.encode() not in cmdline and b"--port\x000" in cmdline

    health = answer(engine.client())
    assert health.ok and health.status == 200 and health.data["api"] == 1
    assert health.data["version"] == engine.version
    lines = [message for message, tag, _ in logged.calls if tag == "samscape"]
    assert any(f"ready at {url}" in line for line in lines)
    assert not any(engine.token in line for line in lines)
    refused = answer(Client(url, ""))
    assert refused.status == 401 and not refused.ok
    assert refused.error.startswith(f"the samscape engine at {url} refused this plugin's token;")

    engine.stop()
    stopped.wait(10)
    assert engine.state == "stopped" and engine.pid is None and engine.client() is None
    wait_until(lambda: not alive(pid), 5, "the engine process is still running after stop")
    gone = answer(Client(url, engine.token))
    assert gone.status is None and gone.error.startswith(f"no samscape engine answers at {url};")


def test_killed_engine_restarts_once_then_on_demand(engine: Engine) -> None:
    ready, failed = Recorder(engine.ready), Recorder(engine.failed)
    engine.start()
    first_url = ready.wait(START_S)[0]
    first_pid = engine.pid
    os.kill(first_pid, signal.SIGKILL)
    (message,) = failed.wait(10)
    assert message.startswith("the samscape engine stopped (crashed or killed)")
    assert message.endswith("; restarting it")
    second_url = ready.wait(START_S, count=2)[0]
    assert engine.state == "ready" and engine.pid not in (None, first_pid) and second_url != first_url
    assert answer(engine.client()).ok

    os.kill(engine.pid, signal.SIGKILL)
    (message,) = failed.wait(10, count=2)
    assert message.startswith("the samscape engine stopped again (crashed or killed)")
    assert "Restart engine" in message
    assert engine.state == "failed" and engine.pid is None and len(ready.calls) == 2

    engine.restart()
    ready.wait(START_S, count=3)
    assert answer(engine.client()).ok


def test_restart_on_demand_replaces_a_running_engine(engine: Engine) -> None:
    ready, stopped = Recorder(engine.ready), Recorder(engine.stopped)
    engine.start()
    ready.wait(START_S)
    old_pid = engine.pid
    engine.restart()
    stopped.wait(10)
    ready.wait(START_S, count=2)
    assert not alive(old_pid) and engine.pid != old_pid and answer(engine.client()).ok


def test_command_line_with_arguments_starts(samscape_command: str, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(command=f"env {shlex.quote(samscape_command)}"), roots=[str(tmp_path)])
    ready = Recorder(engine.ready)
    engine.start()
    ready.wait(START_S)
    try:
        assert answer(engine.client()).ok
    finally:
        engine.stop(wait=True)


def test_command_line(tmp_path: Path) -> None:
    spaced = tmp_path / "my venv" / "bin" / "samscape"
    spaced.parent.mkdir(parents=True)
    spaced.write_text("#!/bin/sh\n")
    spaced.chmod(0o755)
    assert command_line(str(spaced)) == [str(spaced)]
    assert command_line(f" {spaced} ") == [str(spaced)]
    assert command_line(f"'{spaced}' --verbose") == [str(spaced), "--verbose"]
    assert command_line("sh -m samscape.cli.main") == [shutil.which("sh"), "-m", "samscape.cli.main"]
    assert command_line("no-such-python -m samscape.cli.main") is None
    assert command_line(str(tmp_path / "none")) is None and command_line("") is None
    assert command_line("'unclosed") is None


def test_stop_and_wait_for_qgis_closing(engine: Engine) -> None:
    ready, stopped = Recorder(engine.ready), Recorder(engine.stopped)
    engine.start()
    ready.wait(START_S)
    pid = engine.pid
    engine.stop(wait=True)
    assert stopped.calls and engine.state == "stopped" and not alive(pid)


CRASHING_QGIS = """
import os, sys
from qgis.testing import start_app
from qgis.PyQt.QtCore import QEventLoop, QTimer
from samscape_qgis.engine import Engine
from samscape_qgis.settings import EngineSettings
app = start_app()
engine = Engine(EngineSettings(command=sys.argv[1]), roots=[sys.argv[2]])
loop = QEventLoop()
engine.ready.connect(loop.quit)
engine.failed.connect(loop.quit)
QTimer.singleShot(90000, loop.quit)
engine.start()
loop.exec()
print(engine.pid, flush=True)
os._exit(3)  # no unload, no stop: as a crash leaves it
"""


def test_the_engine_ends_when_qgis_crashes(samscape_command: str, tmp_path: Path) -> None:
    """QGIS killed without unloading the plugin: its pipe to the engine's stdin closes and the
    engine stops by itself (`serve --stop-on-eof`) instead of holding its memory and port."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                         os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", CRASHING_QGIS, samscape_command, str(tmp_path)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 3, run.stderr
    pid = int(run.stdout.split()[-1])
    wait_until(lambda: not alive(pid), 10, "the engine outlived the QGIS that started it")


@pytest.mark.parametrize("command", ["{tmp}/venv/bin/samscape", "samscape-nowhere-on-path"])
def test_missing_command_is_one_line_with_the_fix(command: str, tmp_path: Path) -> None:
    command = command.format(tmp=tmp_path)
    engine = Engine(EngineSettings(command=command), roots=[str(tmp_path)])
    failed = Recorder(engine.failed)
    engine.start()
    (message,) = failed.wait(5)
    assert message == not_found(command) and "\n" not in message
    where = command if "/" in command else f"'{command}' (not on QGIS's PATH)"
    assert message == (f"samscape not found at {where}; install samscape (pip install samscape) and set "
                       f"its path in samscape settings, or run `samscape qgis install` again")
    assert engine.state == "failed"


def test_not_executable_command_fails_to_start(tmp_path: Path) -> None:
    script = tmp_path / "samscape"
    script.write_text("not a program\n")
    script.chmod(0o644)
    engine = Engine(EngineSettings(command=str(script)), roots=[str(tmp_path)])
    failed = Recorder(engine.failed)
    engine.start()
    assert failed.wait(5)[0].startswith(f"samscape not found at {script};")


def test_exit_before_ready_names_the_last_error_line(samscape_command: str, tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder.txt"
    a_file.write_text("x")
    engine = Engine(EngineSettings(command=samscape_command), roots=[str(a_file)])
    failed = Recorder(engine.failed)
    engine.start()
    (message,) = failed.wait(START_S)
    assert message.startswith("samscape serve exited before it was ready (exit code 2): ")
    assert "not-a-folder.txt" in message and "\n" not in message
    assert message.endswith(f"run `{samscape_command} serve --port 0` in a terminal to see why")
    assert engine.state == "failed" and engine.pid is None


def other_samscape(tmp_path: Path, output: str) -> str:
    """A stand-in for a samscape of another version (none is installed here): a script that
    prints `output` as that version's `samscape serve` would, then keeps running."""
    script = tmp_path / "other-samscape"
    script.write_text(f"#!/bin/sh\ncat <<'END'\n{output}\nEND\nexec sleep 60\n")
    script.chmod(0o755)
    return str(script)


def test_older_samscape_without_a_ready_line_times_out(tmp_path: Path) -> None:
    command = other_samscape(tmp_path, "samscape: app at http://127.0.0.1:0/")
    engine = Engine(EngineSettings(command=command), roots=[str(tmp_path)])
    engine.start_timeout_ms = 1500
    failed = Recorder(engine.failed)
    engine.start()
    pid = engine.pid
    (message,) = failed.wait(10)
    assert message == (f"samscape serve did not report ready within 2 s; run `{command} serve --port 0` in "
                       f"a terminal to see why (samscape older than this plugin never reports ready: "
                       f"pip install -U samscape)")
    wait_until(lambda: engine.pid is None and not alive(pid), 5, "the silent engine was not stopped")
    assert engine.state == "failed"


@pytest.mark.parametrize(("api", "expected"), [
    (0, "samscape 0.0.9 is too old for this plugin; run: pip install -U samscape"),
    (2, "samscape 0.0.9 is newer than this plugin (engine API 2, plugin API 1); update the plugin: "
        "run `samscape qgis install`"),
])
def test_ready_line_with_another_api_is_refused(api: int, expected: str, tmp_path: Path) -> None:
    info = {"url": "http://127.0.0.1:9", "port": 9, "version": "0.0.9", "api": api}
    line = f"SAMSCAPE_READY {json.dumps(info)}"
    engine = Engine(EngineSettings(command=other_samscape(tmp_path, line)), roots=[str(tmp_path)])
    failed, ready = Recorder(engine.failed), Recorder(engine.ready)
    engine.start()
    pid = engine.pid
    assert failed.wait(10) == (expected,)
    wait_until(lambda: engine.pid is None and not alive(pid), 5, "the refused engine was not stopped")
    assert engine.state == "failed" and not ready.calls and len(failed.calls) == 1


@pytest.fixture
def hand_started(samscape_command: str, tmp_path: Path):
    """An engine started by hand with a token, as a user would for attach mode: (url, token)."""
    token = "hand-started-token"
    process = subprocess.Popen([samscape_command, "serve", "--port", "0", "--root", str(tmp_path)],
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "SAMSCAPE_TOKEN": token})
    try:
        for line in process.stdout:
            if line.startswith("SAMSCAPE_READY "):
                yield json.loads(line.split(" ", 1)[1])["url"], token, process
                break
        else:
            pytest.fail(f"samscape serve exited ({process.wait()}) without a ready line")
    finally:
        process.terminate()
        process.wait(10)


def test_attach_to_a_running_engine(hand_started) -> None:
    url, token, process = hand_started
    engine = Engine(EngineSettings(url=url + "/", token=token))
    ready, stopped = Recorder(engine.ready), Recorder(engine.stopped)
    engine.start()
    assert ready.wait(20) == (url,)
    assert engine.version and engine.pid is None and answer(engine.client()).ok
    engine.stop()
    stopped.wait(5)
    assert process.poll() is None, "stopping an attached engine must leave it running"


def test_attach_with_a_wrong_token_or_no_engine(hand_started, tmp_path: Path) -> None:
    url, _, process = hand_started
    engine = Engine(EngineSettings(url=url, token="wrong"))
    failed = Recorder(engine.failed)
    engine.start()
    assert failed.wait(20)[0].startswith(f"the samscape engine at {url} refused this plugin's token;")
    process.terminate()
    process.wait(10)
    engine.restart()
    assert failed.wait(20, count=2)[0].startswith(f"no samscape engine answers at {url};")
    assert engine.state == "failed"


def test_api_versions() -> None:
    assert api_problem({"version": "0.1.0", "api": 1}) is None
    assert api_problem({"version": "0.0.9"}) == ("samscape 0.0.9 is too old for this plugin; "
                                                 "run: pip install -U samscape")
    assert api_problem({"version": "0.0.9", "api": 0}).startswith("samscape 0.0.9 is too old")
    assert api_problem({"version": "9.0", "api": 2}).startswith("samscape 9.0 is newer than this plugin")
    assert "pip install -U samscape" in api_problem(None)


def test_default_roots(tmp_path: Path) -> None:
    from qgis.core import QgsProject
    from qgis.PyQt.QtCore import QDir

    project = tmp_path / "project"
    project.mkdir()
    QgsProject.instance().setPresetHomePath(str(project))
    try:
        roots = default_roots([str(tmp_path / "data-missing"), str(tmp_path)])
    finally:
        QgsProject.instance().setPresetHomePath("")
    assert os.path.realpath(QDir.homePath()) in roots
    assert all(os.path.isdir(r) for r in roots) and len(set(roots)) == len(roots)
    assert any(os.path.commonpath([str(project.resolve()), r]) == r for r in roots)
    assert not any(r != q and os.path.commonpath([r, q]) == q for r in roots for q in roots)
