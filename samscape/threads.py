"""The thread policy, the one owner of torch's CPU thread counts.

torch runs one OpenMP thread per core by default. When another process keeps a core busy (an
encoding, QGIS, a browser), an OpenMP team waits at every barrier for its descheduled thread.
On the 2-core machine (benchmarks/bench_threads.py, shared with other programs) a demo-model
click took p50 25 ms on one thread and 46 ms on two (p95 36 against 427 ms), a ViT-B-sized one
221 against 960 ms; with a spinning process beside them 26 against 67 ms and 417 against
1265 ms. With a truly free core two threads won 1.2–1.7× (issue 15), too little to risk that.
An encoding child given every core beside a clicking decoder took 36–130 s instead of 7–11 s
on the cores the decoder leaves. So:

- interactive work (`serve`, `segment`: decoder calls of milliseconds, each awaited) runs on
  a few threads: 1 up to 4 cores, then a quarter of the cores, at most 4;
- batch work (`encode`, `demo`) runs on every core;
- an encode job of the server runs in its own process on the cores the decoder leaves
  (cores − interactive threads, at least 1), so it never takes the decoder's core.

`--threads N` or `SAMSCAPE_THREADS=N` (the option wins) set the count for users who know
better (at most one per core); with neither, an `OMP_NUM_THREADS` of the environment is left to
torch as it is. In the Python API, where no command applies the policy, a `Segmenter` decodes on
the interactive count and gives torch its own count back after each object (`scoped`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from .errors import SettingsError

ENV = "SAMSCAPE_THREADS"
Role = Literal["interactive", "batch"]

_applied: int | None = None


def cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def parse_threads(value: object, name: str = "--threads") -> int:
    """A thread count (an int, or its text) of at least 1, else a one-line SettingsError."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise SettingsError(f"{name} {value!r} is not valid: give a whole number of threads, 1 or more")
    return int(text)


def default_threads(role: Role, available: int | None = None) -> int:
    """The policy's thread count for `role` on a machine of `available` cores (default: this one)."""
    n = cores() if available is None else available
    if role == "batch":
        return n
    return 1 if n <= 4 else min(4, n // 4)


def decide(role: Role, given: int | str | None = None) -> int | None:
    """The thread count for `role`: `given` (the --threads option), else $SAMSCAPE_THREADS, else
    the policy's default; None when only $OMP_NUM_THREADS is set (torch reads it itself)."""
    if given is not None:
        return parse_threads(given)
    if os.environ.get(ENV, "").strip():
        return parse_threads(os.environ[ENV], ENV)
    if os.environ.get("OMP_NUM_THREADS", "").strip():
        return None
    return default_threads(role)


def apply(role: Role, given: int | str | None = None) -> int | None:
    """Decide `role`'s thread count and set it for this process, once, before torch's thread
    pools start: through OMP_NUM_THREADS while torch is not loaded yet (it is read when torch
    loads), else `torch.set_num_threads`; at most one per core. Returns the count (None: left to
    OMP_NUM_THREADS)."""
    global _applied
    count = decide(role, given)
    if count is not None:
        count = min(count, cores())  # more would only queue on the cores (torch caps OMP_NUM_THREADS too)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(count)
        else:  # torch takes MKL_NUM_THREADS over OMP_NUM_THREADS where both are set
            os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(count)
    _applied = count
    return count


@contextmanager
def scoped(role: Role) -> Iterator[None]:
    """Run the block on `role`'s thread count ($SAMSCAPE_THREADS, else the policy's) and give
    torch its own count back afterwards, for the Python API, where no command applied the policy.
    Nothing changes once `apply` ran (the CLI, the server), when only $OMP_NUM_THREADS is set, or
    before torch is loaded. A switch costs about 0.1 ms."""
    torch = sys.modules.get("torch")
    count = None if _applied is not None or torch is None else decide(role)
    if torch is None or count is None or min(count, cores()) == (before := torch.get_num_threads()):
        yield
        return
    torch.set_num_threads(min(count, cores()))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def current() -> int:
    """The threads torch runs on in this process (without loading torch: the count it will
    take from OMP_NUM_THREADS, else one per core)."""
    if "torch" in sys.modules:
        return int(sys.modules["torch"].get_num_threads())
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else cores()


def encode_job_threads() -> int:
    """Threads for an encoding this process starts beside its interactive decoding: the cores
    its decoder leaves (at least 1)."""
    decoder = _applied
    if decoder is None:
        omp = os.environ.get("OMP_NUM_THREADS", "").strip()
        decoder = current() if omp else default_threads("interactive")
    return max(1, cores() - decoder)
