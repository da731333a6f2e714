"""The oracle itself: geosam 0.1.3 and Ultralytics in their own venv on the CPU torch, apart from
samscape's environment; Geo-SAM's model names all known to samscape's table."""

from __future__ import annotations

import importlib.util
import subprocess

from samscape.features.geosam.checkpoints import GEOSAM_REGISTRY, GEOSAM_TO_SAMSCAPE, UNSUPPORTED
from samscape.models import CATALOGUE

from .harness import Oracle


def test_oracle_runs_pinned_geosam_on_the_cpu_torch(oracle: Oracle) -> None:
    found = oracle.run("check_env.py")
    assert found["versions"] == {"geosam": "0.1.3", "ultralytics": "8.4.190", "torch": "2.13.0+cpu",
                                 "torchvision": "0.28.0"}


def test_torchvision_does_not_load_beside_the_cpu_torch(oracle: Oracle) -> None:
    """Why the oracle must not reach torchvision (docs/geosam.md): PyPI's build of it links the
    CUDA torch's libraries, so its operators never register."""
    done = subprocess.run([str(oracle.python), "-c", "import torchvision"], capture_output=True, text=True)
    assert done.returncode != 0 and "operator torchvision::nms does not exist" in done.stderr


def test_samscape_environment_has_neither_torchvision_nor_ultralytics() -> None:
    assert importlib.util.find_spec("torchvision") is None
    assert importlib.util.find_spec("ultralytics") is None


def test_every_geosam_sam_and_sam2_name_is_mapped(oracle: Oracle) -> None:
    found = oracle.run("check_env.py")
    geosam = {name: family for name, family in found["geosam"] if family in ("sam", "sam2")}
    assert set(geosam) <= set(GEOSAM_REGISTRY)
    mapped = {n: CATALOGUE[m].family for n, m in GEOSAM_TO_SAMSCAPE.items() if n in geosam}
    assert mapped == {n: f for n, f in geosam.items() if n in GEOSAM_TO_SAMSCAPE}
    assert set(geosam) - set(GEOSAM_TO_SAMSCAPE) <= set(UNSUPPORTED)  # SAM 2.0: samscape lacks it
    assert set(GEOSAM_TO_SAMSCAPE) - set(geosam) == {"sam_h.pt"}  # Ultralytics' name, not Geo-SAM's
    assert set(GEOSAM_TO_SAMSCAPE) <= set(found["ultralytics"])
