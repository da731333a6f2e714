"""Running the samscape command from a Processing algorithm.

Algorithms run outside QGIS's UI thread, and in `qgis_process`, where no dock and no engine
exist: so they run the engine command of the plugin's settings (resolved as the engine is) as a
plain subprocess, read its stdout and stderr on two threads, and poll them with a short timeout
so a cancel in the feedback is seen within a fraction of a second.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO

from qgis.core import QgsProcessingException, QgsProcessingFeedback

from .. import settings
from ..engine import command_line, not_found

POLL_S = 0.1
STOP_GRACE_S = 10.0
ERROR_PREFIX = "samscape: error: "


def engine_command() -> list[str]:
    """The program and leading arguments of the samscape command in the plugin's settings;
    QgsProcessingException (with the fix) when it is not found."""
    command = settings.load().command
    words = command_line(command)
    if words is None:
        raise QgsProcessingException(not_found(command))
    return words


def json_object(line: str) -> dict | None:
    """`line` as a JSON object, or None when it is something else."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def run_samscape(arguments: list[str], feedback: QgsProcessingFeedback,
                 on_stdout: Callable[[str], None] | None = None, canceled_note: str = "") -> list[str]:
    """Run `samscape ARGUMENTS` to its end and return its stdout lines (`on_stdout` sees each as
    it comes). Its other stderr lines go to the feedback's console. A failure raises
    QgsProcessingException with the command's one-line error; a cancel stops the process
    (SIGTERM, then a kill after STOP_GRACE_S), pushes `canceled_note` and raises one too."""
    command = [*engine_command(), *arguments]
    feedback.pushCommandInfo(" ".join(shlex.quote(word) for word in command))
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", env={**os.environ, "PYTHONUNBUFFERED": "1"},
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0)
    except OSError as exc:
        raise QgsProcessingException(f"{not_found(command[0])} ({exc.strerror or exc})") from None
    lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
    for name, stream in (("out", process.stdout), ("err", process.stderr)):
        threading.Thread(target=_read, args=(name, stream, lines), daemon=True).start()
    stdout: list[str] = []
    stderr: list[str] = []
    open_streams = 2
    try:
        while open_streams or process.poll() is None:
            if feedback.isCanceled():
                _stop(process)
                if canceled_note:
                    feedback.pushInfo(canceled_note)
                raise QgsProcessingException(f"canceled{'; ' + canceled_note if canceled_note else ''}")
            try:
                name, line = lines.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            elif name == "out":
                stdout.append(line)
                if on_stdout is not None:
                    on_stdout(line)
            elif line.strip():
                stderr.append(line)
                if not line.startswith(ERROR_PREFIX):
                    feedback.pushConsoleInfo(line)
    finally:
        if process.poll() is None:
            _stop(process)
    if process.returncode != 0:
        raise QgsProcessingException(failure(process.returncode, stderr))
    return stdout


def failure(code: int, stderr: list[str]) -> str:
    """The command's one-line error: its `samscape: error: ...` line, else its last stderr line."""
    errors = [line for line in stderr if line.startswith(ERROR_PREFIX)]
    if errors:
        return errors[-1]
    if stderr:
        return f"samscape failed (exit code {code}): {stderr[-1].strip()}"
    return f"samscape failed (exit code {code}) without a message"


def _read(name: str, stream: IO[str], lines: queue.Queue) -> None:
    try:
        for line in stream:
            lines.put((name, line.rstrip("\r\n")))
    except (OSError, ValueError):  # the stream closed under us
        pass
    finally:
        stream.close()
        lines.put((name, None))


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM (samscape encode then flushes its manifest), a kill if it lingers."""
    process.terminate()
    try:
        process.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_GRACE_S)
