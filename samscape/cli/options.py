"""Parsing of option values shared by subcommands: number lists from flags or settings files."""

from __future__ import annotations

import math

from ..errors import SettingsError


def numbers(value: str | list | tuple | float | int, count: int | None, name: str,
            kind: type = float) -> tuple:
    """'1,2,3' or [1, 2, 3] → a tuple of `kind`, checking there are `count` (None: 1 to 3)."""
    items = value.split(",") if isinstance(value, str) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    try:
        parsed = tuple(kind(str(v).strip()) if kind is int else kind(v) for v in items)
    except (TypeError, ValueError):
        parsed = ()
    ok = len(parsed) == count if count else 1 <= len(parsed) <= 3
    if not ok or not all(math.isfinite(v) for v in parsed):
        want = f"{count} comma-separated numbers" if count else "1 to 3 comma-separated integers"
        raise SettingsError(f"{name} {value!r} is not valid: give {want}")
    return parsed
