"""Package facades that load their heavy modules (torch, pyogrio, scipy) on first use, so that
commands needing none of them (`--help`, `info`, `models list`) start fast."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` (PEP 562) for `package`: `names` maps an attribute to the submodule
    that defines it, imported when the attribute is first read."""

    def __getattr__(name: str) -> object:
        if name in names:
            return getattr(importlib.import_module(f".{names[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
