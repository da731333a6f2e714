"""Checks of setting values given through the Python API, where no flag parser stands in between:
each returns the value normalised (lists to tuples, numpy numbers to Python ones) or raises a
one-line SettingsError naming the setting, the value and what is expected."""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Callable
from numbers import Integral, Real

from .errors import SettingsError

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(location: object) -> bool:
    """Whether `location` is a URL with a scheme (`s3://…`), not a local path."""
    return isinstance(location, str) and _URL.match(location) is not None


def _fail(name: str, value: object, expected: str) -> SettingsError:
    return SettingsError(f"{name} {value!r} is not valid: {expected}")


def integer(name: str, value: object, minimum: int) -> int:
    """An int (not a bool, not a string) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise _fail(name, value, f"give a whole number of at least {minimum}")
    if value < minimum:
        raise _fail(name, value, f"give a whole number of at least {minimum}")
    return int(value)


def number(name: str, value: object, positive: bool = False) -> float:
    """A finite real number (not a bool, not a string); > 0 if `positive`."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise _fail(name, value, "give a finite number")
    if positive and not float(value) > 0:
        raise _fail(name, value, "give a number greater than 0")
    return float(value)


def numbers(name: str, value: object, count: int, example: str) -> tuple[float, ...]:
    """A list or tuple of exactly `count` finite numbers."""
    if not isinstance(value, (list, tuple)) or len(value) != count:
        raise _fail(name, value, f"give {count} numbers, e.g. {example}")
    try:
        return tuple(number(name, v) for v in value)
    except SettingsError:
        raise _fail(name, value, f"give {count} finite numbers, e.g. {example}") from None


def bands(name: str, value: object) -> tuple[int, ...]:
    """1 to 3 band numbers, each at least 1."""
    expected = "give 1 to 3 band numbers (1-based), e.g. 3,2,1"
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= 3:
        raise _fail(name, value, expected)
    try:
        return tuple(integer(name, b, 1) for b in value)
    except SettingsError:
        raise _fail(name, value, expected) from None


def text(name: str, value: object, choices: tuple[str, ...] | None = None) -> str:
    """A string (one of `choices`, if given)."""
    if not isinstance(value, str) or (choices is not None and value not in choices):
        raise _fail(name, value, f"give one of {', '.join(choices)}" if choices else "give a string")
    return value


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, value, "give True or False")
    return value


def progress(value: object) -> bool | Callable[[int, int], None]:
    """True or False (a progress bar or none), or a callable taking (done, total)."""
    if isinstance(value, bool):
        return value
    if callable(value):
        try:
            inspect.signature(value).bind(0, 0)
        except TypeError:
            raise _fail("progress", value, "give True, False or a function of (done, total)") from None
        except ValueError:  # no signature to read (a builtin): taken as it is
            pass
        return value
    raise _fail("progress", value, "give True, False or a function of (done, total)")


def path_text(name: str, value: object) -> str | None:
    """None, or a path (str or os.PathLike) as text."""
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)) and isinstance(os.fspath(value), str):
        return os.fspath(value)
    raise _fail(name, value, "give a path (str or pathlib.Path)")
