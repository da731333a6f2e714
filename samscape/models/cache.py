"""Loaded backends shared by the whole process, and the lock that serialises building models.

Why a process-wide build lock: `transformers` builds a model (from_pretrained, or a constructor
from a config) inside context managers that patch process-wide globals and restore them on exit
(`PreTrainedModel.tie_weights` made a no-op, `torch.linspace`, torch's default dtype, the
`torch.nn.init` functions), and its lazy `import transformers.X` is not thread-safe either. Two
builds interleaved in two threads restore each other's patches in the wrong order: the second
saves the first's no-op `tie_weights` as "the original" and puts it back for good, so SAM's tied
positional embedding stays on the meta device ("Cannot copy out of meta tensor") in that load and
in every later one. Building one model at a time avoids it; a failed build restores the globals
(the patches are undone in `finally`) and caches nothing, so later loads are unaffected.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")

BUILD_LOCK = threading.Lock()
"""Held while `transformers` builds a model (see the module docstring)."""

KEEP = 2
"""Backends kept loaded after their last user lets go (a job then a source reuse them)."""

_guard = threading.Lock()
_key_locks: dict[Hashable, threading.Lock] = {}
_live: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_recent: OrderedDict[Hashable, object] = OrderedDict()


def key_lock(key: Hashable) -> threading.Lock:
    """The one lock of `key` in this process (created on first use)."""
    with _guard:
        return _key_locks.setdefault(key, threading.Lock())


def shared(key: Hashable, build: Callable[[], T]) -> T:
    """The value cached under `key`, else `build()`'s, built once however many threads ask at once.

    A value stays cached while anything holds it, and the `KEEP` most recently asked for stay
    cached after that. A build that raises caches nothing: the next call builds again.
    """
    with key_lock(key):
        with _guard:
            value = _live.get(key)
        if value is None:
            value = build()
        with _guard:
            _live[key] = value
            _recent[key] = value
            _recent.move_to_end(key)
            while len(_recent) > KEEP:
                _recent.popitem(last=False)
        return value


def forget_backends() -> None:
    """Drop every cached backend (the next load builds anew); for tests and long-lived servers."""
    with _guard:
        _live.clear()
        _recent.clear()
