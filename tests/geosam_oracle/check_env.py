"""Checks the oracle venv: geosam and Ultralytics import on the CPU torch, and torchvision was not
imported (PyPI's torchvision cannot load on the CPU torch; see setup_env.sh). Prints the versions
and the model registries as JSON. Run inside the venv."""

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


def registry() -> dict[str, list]:
    """Geo-SAM's model registry (file name, family) and the names Ultralytics' SAM builder knows."""
    from geosam import MODEL_DEFINITIONS
    from ultralytics.models.sam.build import sam_model_map

    return {"geosam": [[d.filename, d.model_type] for d in MODEL_DEFINITIONS],
            "ultralytics": sorted(sam_model_map)}


def main() -> None:
    import geosam.engines  # noqa: F401  (imports ultralytics' SAM too)
    import geosam.models  # noqa: F401

    found = {"versions": versions(), **registry()}
    assert_no_torchvision()
    print(json.dumps(found))


if __name__ == "__main__":
    main()
