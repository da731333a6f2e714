"""The C allocator of a process that runs models: glibc told to keep and reuse freed blocks up to
the size of a decoder's or encoder's activations instead of returning them to the kernel.

glibc serves blocks above its mmap threshold (128 KiB, raised as such blocks are freed, at most
32 MiB) with fresh mappings, and returns the heap's free top beyond its trim threshold; either way
the next tensor of that size faults in pages the kernel zeroes. A ViT-B-width decoder call faulted
6 300 pages (25 MiB) and took 39.6 ms, 28.2 ms with the thresholds fixed as here. A Dask Nanny
makes it worse: its MALLOC_TRIM_THRESHOLD_=65536 (`distributed.nanny.pre-spawn-environ`) pins the
mmap threshold at 128 KiB, and a worker encoded at half a local run's speed, most of it in the
kernel (benchmarks/bench_scale.py --dask).
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["HEAP_BLOCK_BYTES", "reuse_freed_memory"]

HEAP_BLOCK_BYTES = 32 << 20
"""Blocks up to this size come from the heap and are reused (glibc's own largest threshold); the
heap keeps up to twice this free at its top."""
_MMAP_THRESHOLD, _TRIM_THRESHOLD = -3, -1  # glibc's mallopt parameters
_done = False


def reuse_freed_memory() -> None:
    """Fix glibc's mmap and trim thresholds for this process (once; nothing elsewhere)."""
    global _done
    if _done or not sys.platform.startswith("linux"):
        return
    _done = True
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(_MMAP_THRESHOLD, HEAP_BLOCK_BYTES)
        libc.mallopt(_TRIM_THRESHOLD, 2 * HEAP_BLOCK_BYTES)
    except (OSError, AttributeError):  # another C library
        pass
