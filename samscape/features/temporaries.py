"""Temporary files of a feature folder: `.<final name>.<pid>.<token>.tmp`, renamed into place when
whole. Several writers (threads, processes) can share a folder, so a temporary is a leftover to
remove only when the process that wrote it is gone."""

from __future__ import annotations

import os
import re
import sys
import uuid
from pathlib import Path

_PID = re.compile(r"\.(\d+)(?:\.[0-9a-f]+)?\.tmp$")


def temporary_for(path: Path) -> Path:
    """A fresh temporary name beside `path`, unique to this writer."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp")


def replace_with(path: Path, data: bytes | memoryview) -> None:
    """Write `data` to `path` under a temporary name, then rename: a reader never sees a partial
    file, and a kill leaves the old file (and, at worst, a temporary `abandoned` tells apart)."""
    tmp = temporary_for(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def abandoned(path: Path) -> bool:
    """True when the temporary `path` was written by a process that no longer runs."""
    match = _PID.search(path.name)
    if match is None:
        return False
    pid = int(match.group(1))
    if pid == os.getpid() or sys.platform == "win32":  # os.kill would end the process there
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
