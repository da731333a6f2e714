"""Checks the oracle venv: geosam and Ultralytics import on the CPU torch, and torchvision was not
imported (PyPI's torchvision cannot load on the CPU torch; see setup_env.sh). Run inside the venv."""

from __future__ import annotations

import importlib.metadata as md
import json
import sys


def versions() -> dict[str, str]:
    return {name: md.version(name) for name in ("geosam", "ultralytics", "torch", "torchvision")}


def assert_no_torchvision() -> None:
    """The oracle's code paths must never import torchvision: it fails on the CPU torch."""
    if "torchvision" in sys.modules:
        raise SystemExit("the oracle imported torchvision, which does not work on the CPU torch")


def main() -> None:
    import geosam.engines  # noqa: F401  (imports ultralytics' SAM too)
    import geosam.models  # noqa: F401

    assert_no_torchvision()
    print(json.dumps(versions()))


if __name__ == "__main__":
    main()
