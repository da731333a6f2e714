"""A process that loads a model reuses freed tensor-sized blocks (samscape/models/allocator.py),
also under a Dask Nanny's MALLOC_TRIM_THRESHOLD_, which otherwise makes every 4 MiB block a fresh
mapping: a page fault per 4 KiB page."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FAULTS = """
import ctypes, resource, sys
import numpy as np
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE: a fault per 4 KiB page
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        np.ones(1 << 20, dtype=np.float32)  # 4 MiB, like an activation
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
pinned = faults()
if sys.argv[1] == "load":
    from samscape.models import load_backend
    load_backend("tiny-random-sam", device="cpu")
faults()
print(pinned, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize("load", [True, False])
def test_loading_a_model_makes_freed_blocks_reused(load: bool) -> None:
    env = os.environ | {"MALLOC_TRIM_THRESHOLD_": "65536"}
    done = subprocess.run([sys.executable, "-c", FAULTS, "load" if load else "no"], env=env,
                          capture_output=True, text=True, check=True)
    pinned, after = (int(v) for v in done.stdout.split())
    assert pinned >= 50 * 1000  # every block faulted in anew
    assert (after < pinned / 20) if load else (after >= 50 * 1000)
